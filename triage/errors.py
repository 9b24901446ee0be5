"""The one exception root of triage and a subclass per failure a user can act on."""


class TriageError(Exception):
    """Root of every error triage raises on purpose."""


class ConfigError(TriageError):
    """The configuration is missing, unreadable or invalid.

    Carries the file, the key (dotted path) and the problem, so the message
    tells the operator exactly what to fix.
    """

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")


class ParseError(TriageError):
    """Raw bytes that cannot be read as an e-mail message."""


class ModelError(TriageError):
    """The classifier model is missing, unsafe, or does not fit this version."""


class CorpusError(TriageError):
    """The training corpus or its labels are malformed."""


class MailboxError(TriageError):
    """An inbox could not be reached or did not do what was asked (IMAP or Maildir)."""


class DeliveryError(TriageError):
    """A forward or alert could not be handed to SMTP (or the local Maildir delivery)."""


class LedgerError(TriageError):
    """The ledger (the SQLite record of what was done) cannot be opened, read or written."""
