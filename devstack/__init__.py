"""Local infrastructure for development and tests: the moto S3/SQS emulator (checking S3 signatures,
s3.py), the Genesys stand-in, clamd, a throwaway PostgreSQL, and the supervisor behind `make run`
(`python -m devstack`); also how tests and benches start Chromium (browser.py) and the files they
upload (files.py)."""
