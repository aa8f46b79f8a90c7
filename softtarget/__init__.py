"""softtarget: crowds, security staff and diffuse threats at soft targets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("softtarget")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
