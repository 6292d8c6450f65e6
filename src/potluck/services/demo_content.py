"""Realistic, varied and deterministic recipe content for demo data and benchmark data sets."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import NamedTuple, TypedDict, TypeVar

T = TypeVar("T")


class RecipeContent(TypedDict):
    name: str
    description: str
    num_of_servings: int
    cook_time: int
    prep_time: int
    ingredients: list[str]
    directions: list[str]
    tags: list[str]


class _Ingredient(NamedTuple):
    line: str
    name: str
    diet: int  # 0 vegan, 1 vegetarian, 2 meat or fish
    cut: str


# Ingredients keyed by the name the directions use, so that none is listed twice.
_Ingredients = dict[str, _Ingredient]


class _Component(NamedTuple):
    """A titled part of a recipe: a main ingredient, a flavor or a side dish."""

    title: str
    ingredients: _Ingredients
    kind: str


class _Dish(NamedTuple):
    noun: str
    pattern: str
    tags: list[str]
    cook: tuple[int, ...]
    prep: tuple[int, ...]
    servings: tuple[int, ...]
    kinds: str
    base: _Ingredients
    steps: list[str]
    mains: tuple[_Component, ...]


class _Cuisine(NamedTuple):
    title: str
    dishes: tuple[_Dish, ...]
    sides: tuple[_Component, ...]
    fat_and_garnish: _Ingredients
    garnish: str
    seasonings: tuple[_Ingredients, ...]
    flavors: tuple[_Component, ...]


class _Draft(NamedTuple):
    name: str
    description: str
    servings: int
    times: tuple[int, int]
    ingredients: _Ingredients
    directions: list[str]
    tags: tuple[str, ...]


_PLANT_BASED = re.compile(r"(peanut|almond|oat|coconut) (butter|milk|cream)")
_MEAT = re.compile(r"chicken|beef|pork|lamb|turkey|duck|steak|chorizo|sausage|salmon|shrimp|\bcod")
_DAIRY_OR_EGG = re.compile(
    r"\b(butter|milk|cream|cheese|eggs?|egg yolks|yogurt|honey|parmesan|feta|cheddar|halloumi"
    r"|paneer|gruyère|emmental|mayonnaise|crème fraîche|caramel|dulce de leche|naan)\b"
)
_SPICY = re.compile(r"chil(e|i)|chipotle|jalapeño|harissa|gochujang|vindaloo|hot sauce")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.strip().splitlines())


_MEASURES = frozenset(_words("cup cups tbsp tsp lb oz can cans cloves stalks head heads large"))


def _ingredients(text: str) -> _Ingredients:
    """Parse `line>name in directions@how to cut it`; the name defaults to the line's noun."""
    items = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        item, _, cut = item.partition("@")
        line, _, name = item.partition(">")
        words = re.sub(r"\(.*?\)", "", line.partition(",")[0]).split()
        while len(words) > 1 and (words[0][0].isdigit() or words[0] in _MEASURES):
            del words[0]
        lowered = _PLANT_BASED.sub("", line.lower())
        diet = 2 if _MEAT.search(lowered) else 1 if _DAIRY_OR_EGG.search(lowered) else 0
        name = name or " ".join(words)
        items[name] = _Ingredient(line, name, diet, cut)
    return items


def _components(text: str) -> tuple[_Component, ...]:
    rows = [row.partition("=") for row in text.replace("\n", "|").split("|") if row.strip()]
    return tuple(
        _Component(title.strip(), _ingredients(items), "spicy" if _SPICY.search(items) else "")
        for title, _, items in rows
    )


def _blocks(text: str) -> list[tuple[str, list[str], list[str]]]:
    """Split a table into (header, indented lines of quantities, other indented lines)."""
    blocks: list[tuple[str, list[str], list[str]]] = []
    for line in _lines(text):
        if not line.startswith(" "):
            blocks.append((line, [], []))
        else:
            _, quantities, others = blocks[-1]
            (quantities if line.strip()[0].isdigit() else others).append(line.strip())
    return blocks


def _dishes(text: str) -> dict[str, _Dish]:
    dishes = {}
    for header, quantities, steps in _blocks(text):
        noun, pattern, tags, cook, prep, servings, kinds = header.split("|")
        cook_span, prep_span = (tuple(map(int, span.split("-"))) for span in (cook, prep))
        base, sizes = _ingredients(";".join(quantities)), tuple(map(int, servings.split()))
        mains = tuple(main for main in _MAINS if main.kind in kinds)
        fields = (tags.split(","), cook_span, prep_span, sizes, kinds, base, steps, mains)
        dishes[noun] = _Dish(noun, pattern, *fields)
    return dishes


def _cuisines(text: str) -> tuple[_Cuisine, ...]:
    cuisines = []
    for header, quantities, flavors in _blocks(text):
        title, dishes, sides = header.split("|")
        fat, garnish, *seasonings = _ingredients(";".join(quantities)).items()
        # Leaving out one seasoning at a time varies the recipes of one cuisine.
        choices = [dict(seasonings[:i] + seasonings[i + 1 :]) for i in range(len(seasonings))]
        menu = tuple(_DISHES[noun] for noun in dishes.split(","))
        side_dishes = tuple(_SIDES[side] for side in sides.split(","))
        basics = (dict([fat, garnish]), garnish[0], (dict(seasonings), *choices))
        cuisines.append(_Cuisine(title, menu, side_dishes, *basics, _components("|".join(flavors))))
    return tuple(cuisines)


# Kind letters (poultry, meat, fish, legume, tofu, veg, grilling or soft cheese, egg) match dishes.
_MAINS = tuple(
    _Component(main.title[2:], main.ingredients, main.title[0])
    for main in _components("""
p Chicken=1 1/2 lb boneless chicken thighs>chicken|p Turkey=1 1/2 lb turkey breast
p Duck=2 duck breasts|m Beef=1 1/2 lb beef chuck|m Steak=1 lb flank steak|m Chorizo=8 oz chorizo
m Pork=1 1/2 lb pork tenderloin|m Lamb=1 1/2 lb boneless lamb shoulder>lamb
m Sausage=1 lb Italian sausage|f Salmon=4 salmon fillets|f Cod=1 1/2 lb cod fillets
f Shrimp=1 lb large shrimp, peeled and deveined|f Tuna=2 tuna steaks|t Tempeh=8 oz tempeh
l Black Bean=2 cans (15 oz) black beans, drained|l Chickpea=2 cans (15 oz) chickpeas, drained
l Lentil=1 cup green lentils|l White Bean=2 cans (15 oz) cannellini beans, drained>white beans
t Tofu=14 oz extra-firm tofu>tofu|v Mushroom=1 lb cremini mushrooms>mushrooms
v Cauliflower=1 head cauliflower|v Sweet Potato=2 sweet potatoes|v Zucchini=3 zucchini
v Eggplant=2 medium eggplants>eggplant|v Butternut Squash=1 small butternut squash>squash
v Broccoli=2 heads broccoli|c Halloumi=8 oz halloumi|c Paneer=12 oz paneer|e Egg=8 large eggs
g Goat Cheese=4 oz goat cheese|g Gruyère=6 oz Gruyère, grated
""")
)
_MAIN_PREP = dict(
    line.split(" ", 1)
    for line in _lines("""
p Pat the {main} dry, cut into bite-size pieces and season with salt.
m Trim the {main}, cut into bite-size pieces and season with salt.
f Pat the {main} dry and season lightly with salt.
l Rinse and drain the {main}.
t Press the {main} for 15 minutes, then cut into cubes.
v Cut the {main} into bite-size pieces.
c Cut the {main} into thick slices and pat dry.
""")
)
_DISHES = _dishes("""
tacos|{m} Tacos|main course|10-25|10-25|2 4 4 6|pfmltvce
  8 small corn tortillas;1 ripe avocado
  Sauté the {veg} in the oil over medium-high heat, then add the {main} with the {season}.
  Cook for {cook} minutes until browned, then pile into warm tortillas with sliced avocado.
curry|{m} Curry|main course|20-45|10-20|2 4 4 6|pmfltvce
  1 can (13.5 oz) coconut milk;1 can (14 oz) diced tomatoes
  Sauté the {veg} in the oil in a large pot for 5 minutes, then stir in the {season}.
  Add the {main}, coconut milk and diced tomatoes and simmer for {cook} minutes until thick.
stir-fry|{m} Stir-Fry|main course|8-15|10-20|2 2 4 4|pmftvc
  2 tbsp soy sauce;1 tsp cornstarch
  Stir-fry the {main} in the oil in a very hot wok for {cook} minutes, then add the {veg}.
  Stir in the {season}, then the soy sauce mixed with the cornstarch, and toss until glossy.
soup|{m} Soup|soup|25-60|10-20|4 4 6 6 8|pmfltv
  6 cups vegetable stock;1 can (14 oz) diced tomatoes
  Sauté the {veg} in the oil in a large pot for 6 minutes, then stir in the {season}.
  Add the {main}, vegetable stock and diced tomatoes and simmer for {cook} minutes.
stew|{m} Stew|main course,comfort food|60-150|15-30|4 6 6 8|pmv
  4 cups vegetable stock;2 tbsp tomato paste;3 carrots, chopped
  Brown the {main} in the oil in a Dutch oven, then add the carrots and sauté with the {veg}.
  Stir the {season} into the tomato paste, add the stock, cover and simmer for {cook} minutes.
pasta|{m} Pasta|main course|15-25|10-15|2 4 4 6|pmfvg
  12 oz penne;1/2 cup grated parmesan
  Boil the penne until al dente while you sauté the {main} in the oil for {cook} minutes.
  Add the {veg}, then the {season}, and toss with the penne, parmesan and a splash of pasta water.
risotto|{m} Risotto|main course|25-40|10-15|2 4 4 6|pfvg
  1 1/2 cups arborio rice;5 cups hot vegetable stock;2 tbsp butter
  Sauté the {veg} in the oil, add the rice, then the stock a ladle at a time for {cook} minutes.
  Sear the {main} with the {season} until golden and stir it into the risotto with the butter.
sheet-pan dinner|{m} Sheet-Pan Dinner|main course|25-45|10-15|2 4 4 6|pmfltvc
  1 lb baby potatoes, halved
  Heat the oven to 425°F (220°C). Coat the {main} and potatoes in the oil, then the {season}.
  Scatter over the {veg} and roast for {cook} minutes, turning halfway, until golden.
skewers|{m} Skewers|main course,grilling|10-20|20-35|4 4 6|pmftvc
  8 wooden skewers, soaked;1 lemon, cut into wedges>lemon wedges
  Marinate the {main} in the oil with the {season} for 20 minutes, then skewer with the {veg}.
  Grill over medium-high heat for {cook} minutes, turning often, and serve with the lemon wedges.
salad|{m} Salad|salad,healthy|5-15|10-20|2 2 4 4|pfltce
  5 oz mixed greens;1 cup cherry tomatoes;2 tbsp red wine vinegar
  Cook the {main} in a splash of the oil for {cook} minutes, then let it cool a little.
  Whisk the {season} into the vinegar and the rest of the oil to make a dressing.
  Toss the {veg} with the greens, tomatoes and dressing, then top with the {main}.
rice bowl|{m} Rice Bowl|main course,healthy|15-30|10-20|1 2 2 4|pfltvce
  2 cups cooked brown rice
  Cook the {main} in the oil with the {season} for {cook} minutes, then sauté the {veg}.
  Divide the warm brown rice among bowls and top with the {main} and vegetables.
noodles|{m} Noodles|main course|10-20|10-15|2 2 4 4|pmftve
  8 oz udon noodles;3 tbsp soy sauce;1 tbsp toasted sesame oil
  Boil the noodles, then stir-fry the {main} with the {veg} in the oil for {cook} minutes.
  Add the {season}, then toss in the noodles with the soy sauce and sesame oil until glossy.
phở|{m} Phở|soup|30-60|15-25|4 4 6|pmt
  6 cups vegetable broth;8 oz flat rice noodles;2 star anise;1 cup bean sprouts
  Simmer the broth with the star anise and the {season} for {cook} minutes; soak the noodles.
  Poach the thinly sliced {main} in the broth with the {veg}, then ladle over noodles and sprouts.
bánh mì|{m} Bánh Mì|main course,sandwich|10-20|20-30|2 4 4|pmtv
  4 crusty baguette rolls;1 carrot, julienned;1/4 cup rice vinegar;1/4 cup mayonnaise
  Pickle the carrot in the rice vinegar, then sear the {main} with the {season} for {cook} minutes.
  Fill the rolls with mayonnaise, the {main} and the pickled carrot, then top with the {veg}.
chili|{m} Chili|main course,comfort food|45-90|15-20|4 6 6 8|pmlv
  1 can (28 oz) crushed tomatoes;1 can (15 oz) kidney beans, drained;2 tbsp chili powder
  Cook the {main} in the oil in a large pot with the {veg}, then stir in the chili powder.
  Add the {season}, then the tomatoes and kidney beans, and simmer for {cook} minutes.
tagine|{m} Tagine|main course|60-120|15-25|4 6|pmlv
  1 can (14 oz) diced tomatoes;1/2 cup dried apricots;2 cups vegetable stock
  Cook the {main} in the oil in a heavy pot until golden, then add the {veg}.
  Stir in the {season}, then the tomatoes, apricots and stock; cover and simmer for {cook} minutes.
frittata|{m} Frittata|breakfast,brunch|15-25|10-15|4 4 6|pmvg
  8 large eggs;1/4 cup whole milk
  Sauté the {main} with the {veg} in the oil in an ovenproof skillet, then stir in the {season}.
  Whisk the eggs with the milk, pour them in and bake at 400°F (200°C) for {cook} minutes.
käsespätzle|{m} Käsespätzle|main course,comfort food|25-35|15-20|4 4 6|mv
  2 cups flour;4 large eggs;1/2 cup milk;1 1/2 cups grated Emmental
  Beat the flour, eggs and milk into a batter and press it through a colander into boiling water.
  Fry the {main} with the {veg} for {cook} minutes, then add the {season}, spätzle and Emmental.
""")
_SIDES = {
    side.title: side
    for side in _components("""
Coconut Rice=1 cup jasmine rice;1 cup coconut milk|Cucumber Salad=1 English cucumber
Steamed Rice=1 1/2 cups short-grain rice|Garlic Bread=1 baguette;3 tbsp butter|Rösti=2 lb potatoes
Arugula Salad=4 cups arugula|Creamy Polenta=1 cup polenta;2 tbsp butter|Warm Pita=4 pita breads
Cilantro Lime Rice=1 cup long-grain rice|Pico de Gallo=3 ripe tomatoes|Garlic Naan=4 naan breads
Jalapeño Cornbread=1 box cornbread mix;1 large egg|Basmati Rice=1 1/2 cups basmati rice
Cucumber Raita=1 cup plain yogurt|Tzatziki=1 cup Greek yogurt|Crusty Bread=1 crusty loaf>bread
Lemon Potatoes=1 1/2 lb Yukon Gold potatoes|Green Salad=1 head Bibb lettuce
Potato Purée=2 lb russet potatoes;4 tbsp butter|Coleslaw=4 cups shredded cabbage;1/3 cup mayonnaise
Mac and Cheese=8 oz macaroni;2 cups grated cheddar|Herbed Couscous=1 cup couscous
Potato Salad=1 1/2 lb waxy potatoes|Pickled Daikon=1 small daikon|Red Cabbage=1 red cabbage
""")
}
# A cuisine's quantity lines list its cooking fat, its garnish, then its seasonings.
_CUISINES = _cuisines("""
Thai|curry,stir-fry,noodles,soup,salad,rice bowl|Coconut Rice,Cucumber Salad
  2 tbsp coconut oil;1/4 cup chopped cilantro;1 tbsp soy sauce;1 tbsp grated ginger;1 lime, juiced
  Thai=|Thai Green=2 tbsp green curry paste|Thai Red=2 tbsp red curry paste
  Panang=2 tbsp panang curry paste|Thai Basil=1 cup Thai basil|Lemongrass=2 stalks lemongrass
Italian|pasta,risotto,soup,stew,sheet-pan dinner,frittata|Garlic Bread,Arugula Salad,Creamy Polenta
  2 tbsp olive oil;1/4 cup grated parmesan;3 cloves garlic, minced;1 tsp oregano;1 cup basil leaves
  Italian=|Tuscan=1/2 cup sun-dried tomatoes;2 cups baby spinach|Lemon Herb=zest of 1 lemon>lemon
  Puttanesca=1/3 cup Kalamata olives;2 tbsp capers|Tomato Basil=1 can (14 oz) crushed tomatoes
Mexican|tacos,soup,chili,rice bowl,salad|Cilantro Lime Rice,Pico de Gallo,Jalapeño Cornbread
  2 tbsp vegetable oil;1/4 cup chopped cilantro;2 tsp ground cumin;1 tsp oregano;2 tbsp lime juice
  Mexican=|Smoky Chipotle=2 chipotle peppers in adobo, chopped|Salsa Verde=1 cup salsa verde
  Ancho=1 tbsp ancho chile powder|Jalapeño Lime=2 jalapeños, minced;zest of 1 lime>lime
Indian|curry,skewers,soup,rice bowl,sheet-pan dinner|Basmati Rice,Garlic Naan,Cucumber Raita
  2 tbsp vegetable oil;1/4 cup chopped cilantro;2 tsp garam masala;1 tsp turmeric;1 tsp cumin seeds
  Indian=|Tikka Masala=2 tbsp tikka masala paste;1/2 cup heavy cream|Korma=1/2 cup ground cashews
  Vindaloo=2 tbsp vindaloo paste|Tandoori=1/2 cup plain yogurt;1 tbsp tandoori masala
Japanese|noodles,rice bowl,stir-fry,skewers,soup,salad|Steamed Rice,Cucumber Salad
  1 tbsp neutral oil;2 scallions, thinly sliced;2 tbsp soy sauce;1 tbsp mirin;1 tbsp rice vinegar
  Japanese=|Teriyaki=1/4 cup teriyaki sauce|Miso-Glazed=2 tbsp white miso|Yuzu=1 tbsp yuzu juice
  Sesame=2 tbsp toasted sesame seeds|Wasabi=1 tsp wasabi paste|Ginger Soy=1 tbsp grated ginger
Korean|rice bowl,stir-fry,stew,tacos,noodles|Steamed Rice,Cucumber Salad
  1 tbsp neutral oil;1 tbsp sesame seeds;2 tbsp soy sauce;1 tsp gochugaru;3 cloves garlic, minced
  Korean=|Gochujang=2 tbsp gochujang|Sesame Garlic=1 tbsp sesame oil|Kimchi-Style=1 tbsp gochugaru
  Bulgogi-Style=1 Asian pear, grated;2 tbsp brown sugar
Vietnamese|phở,bánh mì,noodles,salad,rice bowl|Pickled Daikon,Steamed Rice
  1 tbsp neutral oil;1 cup mint and cilantro>herbs;2 tbsp soy sauce;1 tsp sugar;2 tbsp lime juice
  Vietnamese=|Lemongrass=2 stalks lemongrass, minced|Caramelized Ginger=2 tbsp brown sugar
  Chili Lime=1 red chile, sliced;zest of 1 lime>lime
Greek|skewers,salad,sheet-pan dinner,stew,rice bowl|Tzatziki,Lemon Potatoes,Warm Pita
  3 tbsp olive oil;1/2 cup crumbled feta;2 tsp dried oregano;2 tbsp lemon juice;1 tsp dried mint
  Greek=|Lemon Oregano=zest of 1 lemon>lemon|Kalamata Olive=1/2 cup Kalamata olives|Dill=1 cup dill
Moroccan|tagine,stew,soup,sheet-pan dinner,salad,skewers|Herbed Couscous,Warm Pita
  2 tbsp olive oil;1/4 cup chopped parsley;1 tsp ground cumin;1 tsp cinnamon;1 tsp ground coriander
  Moroccan=|Harissa=2 tbsp harissa paste|Ras el Hanout=1 tbsp ras el hanout|Saffron=1 pinch saffron
  Preserved Lemon=1 preserved lemon, chopped
American|chili,sheet-pan dinner,salad,soup,skewers,tacos|Coleslaw,Mac and Cheese
  2 tbsp vegetable oil;2 scallions, sliced;1 tsp smoked paprika;1 tsp garlic powder;1 tsp cayenne
  Southern=|BBQ=1/2 cup barbecue sauce|Buffalo=1/3 cup hot sauce|Cajun=1 tbsp Cajun seasoning
  Honey Mustard=2 tbsp honey;2 tbsp Dijon mustard
German|käsespätzle,stew,soup,sheet-pan dinner|Red Cabbage,Potato Salad,Rösti
  2 tbsp sunflower oil;2 tbsp chopped chives;1 tsp caraway seeds;1 tbsp grainy mustard;1 tsp thyme
  German=|Beer-Braised=12 oz lager|Caraway=2 tsp caraway seeds|Paprika=1 tbsp paprika
French|stew,soup,frittata,sheet-pan dinner,risotto,salad|Crusty Bread,Green Salad,Potato Purée
  2 tbsp olive oil;2 tbsp chopped parsley;2 sprigs fresh thyme>thyme;2 bay leaves;1 cup white wine
  French=|Provençal=1 tbsp herbes de Provence|Red Wine=1 cup red wine|Dijon=2 tbsp Dijon mustard
""")
# Flavors that suit any cuisine.
_FLAVORS = _components("""
Lemon Garlic=zest and juice of 1 lemon>lemon;4 cloves garlic, minced|Spicy=1 tsp chili flakes
Honey Garlic=3 tbsp honey;4 cloves garlic, minced|Creamy=1/2 cup heavy cream|Herby=1 cup herbs
Garlic Butter=3 tbsp butter;5 cloves garlic, minced|Smoked Paprika=2 tsp smoked paprika
Sticky Sesame=2 tbsp sesame seeds;2 tbsp maple syrup|Roasted Garlic=1 head garlic>roasted garlic
Maple Mustard=2 tbsp maple syrup;2 tbsp Dijon mustard|Black Pepper=1 tbsp cracked black pepper
""")
_EXTRAS = tuple(
    _ingredients(
        """
1 yellow onion@dice;1 red onion@slice;3 cloves garlic, minced;2 shallots@thinly slice
1 red bell pepper@slice;2 carrots@dice;2 celery stalks>celery@chop;2 cups baby spinach
1 cup frozen peas;1 cup cherry tomatoes@halve;1 zucchini@dice;1 cup corn kernels;1 leek@slice
2 cups broccoli florets;1 jalapeño@seed and mince;4 scallions@slice;1 bunch kale>kale@chop
1 fennel bulb@thinly slice;2 cups shredded cabbage;1 cup snap peas@trim;8 oz mushrooms@slice
4 baby bok choy@quarter;1 cup green beans@trim;1 tbsp grated ginger
""".replace("\n", ";")
    ).values()
)
_SWEET_DISHES = tuple(
    _dishes("""
muffins|{m} Muffins|breakfast,baking|18-25|10-15|12|*
  2 cups flour;3/4 cup sugar;2 tsp baking powder;1 cup milk;1/3 cup butter, melted;1 large egg
  Whisk the flour, sugar and baking powder, then stir in the milk, butter and egg.
  Fold in the {flavor} and divide the batter among 12 lined muffin cups.
  Bake at 375°F (190°C) for {cook} minutes until risen and golden, then cool on a rack.
rice pudding|{m} Rice Pudding|dessert|30-45|5-10|4 6|*
  3/4 cup arborio rice;4 cups whole milk;1/3 cup sugar
  Bring the arborio rice, milk and sugar to a gentle simmer in a heavy saucepan.
  Cook for {cook} minutes, stirring often, until the rice is tender and creamy.
  Stir in the {flavor} and serve warm or chilled.
pancakes|{m} Pancakes|breakfast|10-20|5-10|2 4 4|*
  1 1/2 cups flour;2 tbsp sugar;2 tsp baking powder;1 1/4 cups buttermilk;1 large egg
  Whisk the flour, sugar and baking powder, then whisk in the buttermilk and egg.
  Fold in the {flavor} and let the batter rest for 5 minutes.
  Cook scoops of batter on a greased griddle over medium heat, {cook} minutes in all.
crumble|{m} Crumble|dessert,baking|35-45|15-20|6 8|F
  1 cup flour;1/2 cup rolled oats;1/2 cup brown sugar;1/2 cup cold butter, cubed
  Heat the oven to 350°F (180°C) and spread the {flavor} in a baking dish.
  Rub the butter into the flour, oats and brown sugar until it looks like coarse crumbs.
  Scatter the crumble over the fruit and bake for {cook} minutes until golden and bubbling.
cookies|{m} Cookies|dessert,baking|10-14|15-20|24|A
  2 1/4 cups flour;1 tsp baking soda;1 cup butter, softened;1 cup brown sugar;2 large eggs
  Cream the butter and brown sugar until fluffy, then beat in the eggs.
  Stir in the flour and baking soda, then fold in the {flavor}.
  Scoop onto lined baking sheets and bake at 350°F (180°C) for {cook} minutes.
cake|{m} Cake|dessert,baking|40-55|15-20|8 10 12|*
  1 1/2 cups flour;1 cup sugar;1/2 cup butter, softened;3 large eggs;1 1/2 tsp baking powder
  Beat the butter and sugar until pale, then beat in the eggs one at a time.
  Fold in the flour, baking powder and {flavor} and scrape into a lined 9-inch pan.
  Bake at 350°F (180°C) for {cook} minutes, until a skewer comes out clean.
porridge|{m} Porridge|breakfast,healthy|8-12|2-5|1 2 2|*
  1 cup rolled oats;2 cups oat milk;1 tbsp maple syrup
  Bring the oats, oat milk and a pinch of salt to a simmer in a small saucepan.
  Cook for {cook} minutes, stirring, until thick and creamy.
  Stir in the maple syrup and top with the {flavor}.
sorbet|{m} Sorbet|dessert,make-ahead|5-10|15-25|6|F
  3/4 cup sugar;3/4 cup water;2 tbsp lemon juice
  Simmer the sugar and water for {cook} minutes until the sugar dissolves, then let it cool.
  Blend the {flavor} with the syrup and lemon juice until completely smooth.
  Churn in an ice cream maker, then freeze for at least 4 hours.
crème brûlée|{m} Crème Brûlée|dessert|35-45|20-30|4 6|A
  2 cups heavy cream;5 large egg yolks;1/2 cup sugar
  Heat the oven to 325°F (160°C) and warm the cream with the {flavor}.
  Whisk the egg yolks with most of the sugar, then slowly whisk in the warm cream.
  Bake in ramekins in a water bath for {cook} minutes, chill, then torch sugar on top.
""").values()
)
_ACCENTS = _components("""
Cardamom=1 tsp ground cardamom|Vanilla Bean=1 vanilla bean>vanilla|Cinnamon=2 tsp ground cinnamon
Brown Butter=4 tbsp brown butter|Salted Caramel=1/3 cup salted caramel sauce>caramel sauce
Honey=3 tbsp honey|Ginger=1 tbsp grated fresh ginger|Chai=2 tsp chai spice|Maple=1/4 cup maple syrup
Lemon=zest of 2 lemons>lemon zest|Orange=zest of 1 orange>orange zest|Matcha=2 tsp matcha powder
Coconut=1 cup shredded coconut|Pistachio=1/2 cup chopped pistachios|Almond=1/2 cup sliced almonds
Espresso=1 tbsp espresso powder|Chocolate Chip=1 cup dark chocolate chips|Tahini=1/3 cup tahini
Double Chocolate=1/2 cup cocoa powder;1 cup dark chocolate chips|Rose=1 tsp rose water
Piña Colada=1 cup crushed pineapple;1/2 cup coconut cream
Dulce de Leche=1/2 cup dulce de leche
""")
_FRUITS = _components("""
Blueberry=1 1/2 cups blueberries|Raspberry=1 1/2 cups raspberries|Cherry=2 cups pitted cherries
Strawberry=2 cups sliced strawberries|Apple=3 apples, peeled and sliced|Fig=8 fresh figs, quartered
Pear=3 ripe pears, sliced|Peach=4 peaches, sliced|Banana=2 ripe bananas|Mango=2 ripe mangoes, diced
Pumpkin=1 cup pumpkin purée|Rhubarb=3 stalks rhubarb, chopped|Blackberry=1 1/2 cups blackberries
Plum=6 plums, pitted and sliced|Apricot=8 apricots, halved|Cranberry=1 1/2 cups cranberries
""")
_PINCH_OF_SALT = _ingredients("1/4 tsp fine salt")
_TO_TASTE = _ingredients("salt and black pepper, to taste")
_NO_SIDE = _Component("", {}, "")
_PREFIXES = _words("""
Grandma's Nonna's Abuela's Mom's Dad's Auntie's Oma's Mémé's Classic Sunday Best-Ever Easy Cozy
Homestyle Weekend Simple Rustic Family-Style
""")
_ADJECTIVES = _words("Cozy Bright Hearty Simple Vibrant Comforting No-fuss Satisfying Fragrant")
_SAVORY_OPENERS = _lines("""
{adjective} {cuisine} {noun} with {main}, {first_veg} and {first_season}.
{cuisine} {noun} made with {main} and {first_veg}, finished with {garnish}.
Everything you love about {cuisine} {noun}, made with {main} and plenty of {first_season}.
""")
_SWEET_OPENERS = _lines("""
{adjective} {noun} with {flavor}.
Old-fashioned {noun}, flavored with {flavor}.
{adjective} {noun} starring {flavor}.
""")
# Repeated so that any start index gives up to two distinct consecutive closers.
_SAVORY_CLOSERS = 2 * _lines("""
Ready in about {time} and serves {servings}.
Leftovers keep in the fridge for up to 3 days.
It doubles easily for a crowd.
The flavors get even better the next day.
A family favorite on busy weeknights.
""")
_SWEET_CLOSERS = 2 * _lines("""
Ready in about {time} and makes {servings} servings.
Best enjoyed fresh, but just as good the next day.
Perfect for brunch or an afternoon treat.
Kids love helping with this one.
""")
_FINISHES = _lines("""
Season to taste, scatter over the {garnish} and serve.
Taste for salt and pepper, top with the {garnish} and serve hot.
Finish with the {garnish} and serve right away.
""")


def _pick(rng: random.Random, options: Sequence[T]) -> T:
    return options[int(rng.random() * len(options))]


def _rounded(minutes: int) -> int:
    return minutes if minutes < 20 else 5 * round(minutes / 5)


def _minutes(rng: random.Random, span: tuple[int, ...]) -> int:
    return _rounded(span[0] + int(rng.random() * (span[1] - span[0] + 1)))


def _duration(minutes: int) -> str:
    return f"{minutes} minutes" if minutes < 90 else f"{round(minutes / 30) / 2:g} hours"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _description(
    rng: random.Random, openers: Sequence[str], closers: Sequence[str], words: dict[str, object]
) -> str:
    start, count = int(rng.random() * len(closers) / 2), int(rng.random() * 3)
    sentences = (_pick(rng, openers), *closers[start : start + count])
    return " ".join(sentence.format_map(words) for sentence in sentences)


def _savory(rng: random.Random) -> _Draft:
    cuisine = _pick(rng, _CUISINES)
    dish = _pick(rng, cuisine.dishes)
    main = _pick(rng, dish.mains)
    flavor = _pick(rng, cuisine.flavors if rng.random() < 0.6 else _FLAVORS)
    with_main = dish.pattern.startswith("{m} ") and rng.random() < 0.25
    if with_main:
        name = f"{flavor.title} {dish.pattern[4:]} with {next(iter(main.ingredients)).title()}"
    else:
        name = f"{flavor.title} {dish.pattern.replace('{m}', main.title)}"
    head, sauce = {**main.ingredients, **dish.base}, {**flavor.ingredients}
    sauce.update(_pick(rng, cuisine.seasonings))
    taken = {**head, **sauce, **cuisine.fat_and_garnish}
    side = _pick(rng, cuisine.sides)
    # A side must leave room for a vegetable and repeat neither the dish's name nor ingredients.
    if (
        with_main
        or rng.random() < 0.7
        or len(taken) + len(side.ingredients) > 11
        or side.title.split()[-1] in name
        or not taken.keys().isdisjoint(side.ingredients)
    ):
        side = _NO_SIDE
    else:
        name += f" with {side.title}"
        taken.update(side.ingredients)
    if rng.random() < 0.15:
        name = f"{_pick(rng, _PREFIXES)} {name}"
    # 13 keeps the salt-and-pepper line within the API's limit of 14 ingredients.
    wanted = min(1 + int(rng.random() * 4), 13 - len(taken))
    extras: _Ingredients = {}
    while len(extras) < wanted:
        extra = _pick(rng, _EXTRAS)
        if extra.name not in taken:
            extras[extra.name] = extra
    ingredients = {
        **head,
        **extras,
        **sauce,
        **cuisine.fat_and_garnish,
        **side.ingredients,
        **_TO_TASTE,
    }
    times = (_minutes(rng, dish.cook), _minutes(rng, dish.prep))
    servings = _pick(rng, dish.servings)
    season = [seasoning for seasoning in sauce if seasoning not in dish.base] or list(sauce)
    vegetables = list(extras)
    words: dict[str, object] = {
        "main": next(iter(main.ingredients)),
        "veg": _join(vegetables),
        "season": _join(season),
        "cook": _rounded(times[0] * 2 // 3),
        "garnish": cuisine.garnish,
        "first_veg": vegetables[0],
        "first_season": season[0],
        "cuisine": cuisine.title,
        "noun": dish.noun,
        "adjective": _pick(rng, _ADJECTIVES),
        "servings": servings,
        "time": _duration(sum(times)),
    }
    cuts = [f"{item.cut} the {item.name}" for item in extras.values() if item.cut]
    directions = [f"{_join(cuts)[0].upper()}{_join(cuts)[1:]}."] if cuts else []
    if main.kind in _MAIN_PREP:
        directions.append(_MAIN_PREP[main.kind].format_map(words))
    directions += [step.format_map(words) for step in dish.steps]
    if side.title:
        directions.append(f"Meanwhile, prepare the {side.title.lower()}.")
    directions.append(_pick(rng, _FINISHES).format_map(words))
    description = _description(rng, _SAVORY_OPENERS, _SAVORY_CLOSERS, words)
    tags = (dish.tags[0], cuisine.title.lower(), flavor.kind, *dish.tags[1:])
    return _Draft(name, description, servings, times, ingredients, directions, tags)


def _sweet(rng: random.Random) -> _Draft:
    dish = _pick(rng, _SWEET_DISHES)
    roll = rng.random()
    flavors = []
    if dish.kinds == "A" or roll < 0.4 or roll >= 0.7:
        flavors.append(_pick(rng, _ACCENTS))
    if dish.kinds == "F" or (dish.kinds == "*" and roll >= 0.4):
        flavors.append(_pick(rng, _FRUITS))
    name = f"{' '.join(flavor.title for flavor in flavors)} {dish.pattern[4:]}"
    if rng.random() < 0.15:
        name = f"{_pick(rng, _PREFIXES)} {name}"
    ingredients = dish.base.copy()
    for flavor in flavors:
        ingredients.update(flavor.ingredients)
    ingredients.update(_PINCH_OF_SALT)
    times = (_minutes(rng, dish.cook), _minutes(rng, dish.prep))
    servings = _pick(rng, dish.servings)
    words: dict[str, object] = {
        "flavor": _join([item for flavor in flavors for item in flavor.ingredients]),
        "cook": times[0],
        "noun": dish.noun,
        "adjective": _pick(rng, _ADJECTIVES),
        "servings": servings,
        "time": _duration(sum(times)),
    }
    directions = [step.format_map(words) for step in dish.steps]
    description = _description(rng, _SWEET_OPENERS, _SWEET_CLOSERS, words)
    tags = (dish.tags[0], "", "chocolate" if "Chocolate" in name else "", *dish.tags[1:])
    return _Draft(name, description, servings, times, ingredients, directions, tags)


def recipe_content(rng: random.Random) -> RecipeContent:
    """One recipe's content, drawn from `rng` alone: the same seed gives the same recipes."""
    draft = _savory(rng) if rng.random() < 0.75 else _sweet(rng)
    (cook_time, prep_time), tags = draft.times, draft.tags
    diet = ("vegan", "vegetarian", "")[max(item.diet for item in draft.ingredients.values())]
    # Diet and "quick" come right after course and cuisine so that the five-tag cap keeps them.
    ordered = (*tags[:2], diet, "quick" if cook_time + prep_time <= 30 else "", *tags[2:])
    return RecipeContent(
        name=draft.name,
        description=draft.description,
        num_of_servings=draft.servings,
        cook_time=cook_time,
        prep_time=prep_time,
        ingredients=[item.line for item in draft.ingredients.values()],
        directions=draft.directions,
        tags=list(dict.fromkeys(tag for tag in ordered if tag))[:5],
    )


_FIRST_NAMES = _words("""
maria ben alex sam priya wei yuki omar leila noah emma liam olivia ava mia lucas mateo sofia chloe
ethan amara kofi ines hana jonas nadia rafael tariq zoe diego aisha kenji marta lena felix ivan
elena jun ana theo ruby maya isla hugo nina oscar paula rosa sara tom
""")
_LAST_NAMES = _words("""
lopez smith nguyen patel kim garcia rossi muller chen okafor silva tanaka novak costa haddad brown
jones martin dubois schmidt kowalski ivanova cohen singh ali hansen moreau fischer romano ferreira
mendes sato park wang santos reyes cruz walsh byrne kelly murphy
""")
_HANDLES = _words("""
{first}.{last} {first}_{last} {first}{last}{number} cook_{first}{number} {first}{number}
chef.{first} {first}bakes {first}-{last} hungry_{first}{number}
""")


def usernames(rng: random.Random, count: int) -> list[str]:
    """`count` distinct plausible usernames: 3-30 of a-z, 0-9, `_.-`, starting with a letter."""
    names: dict[str, None] = {}
    while len(names) < count:
        first, last = _pick(rng, _FIRST_NAMES), _pick(rng, _LAST_NAMES)
        name = _pick(rng, _HANDLES).format(first=first, last=last, number=int(rng.random() * 100))
        names.setdefault(f"{name}{int(rng.random() * 100_000)}" if name in names else name)
    return list(names)
