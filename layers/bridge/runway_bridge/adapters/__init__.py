"""All boto3/httpx code; SDK errors become typed domain errors here."""
