"""A local stand-in for Genesys Cloud (OAuth login host, platform API, open messaging, an agent console).

For development and tests only; the product talks to it exactly as it talks to Genesys Cloud.
"""

from genesys_standin.app import create_app
from genesys_standin.settings import StandinSettings

__all__ = ["StandinSettings", "create_app"]
