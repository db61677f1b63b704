"""dandischema, configured for this instance.

dandischema reads its instance configuration (name, identifier, URL, DOI prefix, licenses)
once, when `dandischema.models` is first imported. Every process calls `configure_dandischema`
at startup, before anything imports the models.
"""

from __future__ import annotations

from dandischema.conf import Config, set_instance_config
from dandischema.consts import ALLOWED_INPUT_SCHEMAS, DANDI_SCHEMA_VERSION

from dandelion_common.settings import InstanceSettings

SCHEMA_VERSION: str = DANDI_SCHEMA_VERSION
ALLOWED_SCHEMA_VERSIONS: list[str] = list(ALLOWED_INPUT_SCHEMAS)


def instance_config(instance: InstanceSettings) -> Config:
    """dandischema's view of this archive; invalid values fail at startup."""
    return Config.model_validate(
        {
            "dandi_instance_name": instance.name,
            "dandi_instance_identifier": instance.identifier,
            "dandi_instance_url": instance.web_url,
            "dandi_doi_prefix": instance.doi_prefix,
            "dandi_licenses": instance.licenses,
        }
    )


def configure_dandischema(instance: InstanceSettings) -> None:
    set_instance_config(instance_config(instance))
