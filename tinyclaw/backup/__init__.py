"""``tinyclaw backup`` and ``tinyclaw restore``: one archive with everything a home
needs to carry on elsewhere (see :mod:`tinyclaw.backup.archive`)."""

from tinyclaw.backup.archive import MANIFEST, create_backup
from tinyclaw.backup.restore import restore_backup

__all__ = ["MANIFEST", "create_backup", "restore_backup"]
