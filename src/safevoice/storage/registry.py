"""Imports every domain's models so that ``Base.metadata`` knows all tables."""

from safevoice.audit import models as audit_models
from safevoice.cases import models as cases_models
from safevoice.dialogue import models as dialogue_models
from safevoice.instance import models as instance_models
from safevoice.intake import models as intake_models
from safevoice.members import models as members_models
from safevoice.storage.base import Base

metadata = Base.metadata

__all__ = [
    "audit_models",
    "cases_models",
    "dialogue_models",
    "instance_models",
    "intake_models",
    "members_models",
    "metadata",
]
