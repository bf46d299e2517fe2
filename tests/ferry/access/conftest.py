"""ferry.access is tested against the seeded Genesys stand-in and the app the viewer tests use."""

from tests.viewer.conftest import services, standin_server, viewer_app, viewer_settings, world

__all__ = ["services", "standin_server", "viewer_app", "viewer_settings", "world"]
