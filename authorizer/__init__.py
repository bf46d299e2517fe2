"""API Gateway Lambda authorizer: the viewer's Genesys checks (ferry.access) in front of Ferry's API."""
