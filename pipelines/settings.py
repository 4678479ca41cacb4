"""The project configuration, loaded once per process when the Definitions are built.

:func:`settings` reads ``anchormix.toml`` (or ``$ANCHORMIX_CONFIG``) on its first
call and caches the result; nothing is read at import. The Definitions call it
while they are built (partitions, schedule, run config and resource defaults),
so a bad value fails there with the key at fault, and `dagster definitions
validate` and the UI's code-location error both name it. ``settings.cache_clear()``
forgets the cached file; definitions already built from it (partitions, schedule,
``MixConfig``, ``EmbeddingResource``) keep the values they were built with.

:func:`launchpad_fields` turns fields of a section model into Dagster config
fields, so the Launchpad and the resources derive from the same model as the file.
"""

from __future__ import annotations

import types
import typing
from functools import lru_cache
from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, Field

from anchormix.config import Settings, load_settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The validated configuration of this process."""
    return load_settings()


def _plain(tp: Any) -> Any:
    """The annotation without pydantic metadata (``Annotated``), which Dagster's config types do not read."""
    if typing.get_origin(tp) is Annotated:
        return _plain(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args:
            [inner] = [a for a in args if a is not type(None)]
            return Optional[_plain(inner)]
    return tp


def launchpad_fields(section: BaseModel, names: typing.Iterable[str] | typing.Mapping[str, str]) -> dict[str, tuple]:
    """Config fields for ``names`` of a section model: type and description from the model, default from ``section``.

    ``names`` may map a section key to the Launchpad name (``{"auroc_floor": "detector_auroc_floor"}``).
    """
    renames = dict(names) if isinstance(names, typing.Mapping) else {n: n for n in names}
    model_fields = type(section).model_fields
    return {launchpad: (_plain(model_fields[key].annotation),
                        Field(default=getattr(section, key), description=model_fields[key].description))
            for key, launchpad in renames.items()}
