"""Render an nginx template the way the nginx image's envsubst does (compose.yaml): each
${NAME} becomes the environment's NAME, and nginx's own $variables are left alone. Unlike
envsubst, a name that is not set stops the rendering, so a typo never becomes an empty
directive.

    python3 deploy/render_template.py deploy/nginx/potluck.conf.template > potluck.conf
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

NAME = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render(template: str, environ: Mapping[str, str]) -> str:
    missing = sorted({name for name in NAME.findall(template) if name not in environ})
    if missing:
        raise KeyError(", ".join(missing))
    return NAME.sub(lambda match: environ[match.group(1)], template)


def main(path: str) -> None:
    with open(path, encoding="utf-8") as source:
        template = source.read()
    try:
        sys.stdout.write(render(template, os.environ))
    except KeyError as error:
        sys.exit(f"{path}: set {error.args[0]} to render it")


if __name__ == "__main__":
    main(sys.argv[1])
