"""Who may see which attachment: the checks shared by the viewer, its JSON API and the Lambda authorizer.

- `identity`: a Genesys user token → `GET /api/v2/users/me` (+ `GET /api/v2/tokens/me`) → `Identity`, or
  `AccessDenied` naming the `Reason`. Genesys unreachable → `AccessUnavailable` (callers fail closed).
- `grants`: reviewers see every attachment; agents only those of conversations they were an agent of,
  checked with Ferry's own token and cached briefly in `ConversationGrant`.
- `serving`: every presigned URL is made by `presigned_url`, which refuses unless the attachment's database
  status AND its object's scan-status tag, read from S3 right then, both say clean.
- `audit`: `record` appends one `AccessAudit` row to the hash chain; `verify` finds where the chain breaks.
- `opening`: the use case that runs them in order for one request to open an attachment.
"""
