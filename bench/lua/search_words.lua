-- The words the search scripts draw from (run.py puts this file before them).
search_words = {"chicken", "soup", "lemon", "garlic", "curry", "tofu", "pasta", "salad",
  "beef", "rice", "cake", "spicy", "mushroom", "salmon", "bean", "coconut", "ginger",
  "tomato", "chocolate", "lentil", "honey", "basil", "pork", "egg", "cheese"}
math.randomseed(os.time())
