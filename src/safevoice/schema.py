"""The whole database schema: every domain's tables in one ``metadata``.

Alembic's environment, the backups (which copy every table) and the schema tests read it. It
sits above the domains it collects, so that ``storage/`` itself never imports a domain.
"""

from safevoice.attachments import models as attachments_models
from safevoice.audit import models as audit_models
from safevoice.cases import models as cases_models
from safevoice.dialogue import models as dialogue_models
from safevoice.instance import models as instance_models
from safevoice.intake import models as intake_models
from safevoice.lessons import models as lessons_models
from safevoice.members import models as members_models
from safevoice.retention import models as retention_models
from safevoice.storage import blob_models
from safevoice.storage.base import Base
from safevoice.surveys import models as surveys_models

metadata = Base.metadata

__all__ = [
    "attachments_models",
    "audit_models",
    "blob_models",
    "cases_models",
    "dialogue_models",
    "instance_models",
    "intake_models",
    "lessons_models",
    "members_models",
    "metadata",
    "retention_models",
    "surveys_models",
]
