"""triage: sorts support and sales mail by language and topic, routes it, drafts replies."""

__version__ = "0.1.0"
