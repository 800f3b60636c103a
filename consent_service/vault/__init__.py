"""The privacy vault: other systems store vault tokens instead of personal data."""
