"""The part of the build pyproject.toml cannot say: `openapi/` and `fixtures/` stay at the top of the
repository and are installed inside the package as `mockserver.openapi` and `mockserver.fixtures`,
where mockserver/resources.py finds them."""

from setuptools import find_packages, setup

DATA_PACKAGES = {"mockserver.openapi": "openapi", "mockserver.fixtures": "fixtures"}

setup(
    packages=[*find_packages(include=["mockserver", "mockserver.*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
    package_data={
        "mockserver.openapi": ["*.yaml", "overlays/*.yaml", "source/*.md"],
        "mockserver.fixtures": ["*.mp4", "*.webp", "*.jpg", "README.md"],
        "mockserver.ui": ["static/*.html", "static/*.js", "static/*.css"],  # the dashboard's page
    },
)
