"""Model registry, factory, Hub plumbing and the model families.

Importing this package registers every family; each lives in one file of this folder.
"""

# Model families: importing a family's module registers its models (one file per family).
from . import (  # noqa: F401
    awan,
    colour_recovery,
    hrnet,
    hscnn_plus,
    mae_ktsr,
    mst_plus_plus,
    regression,
)
from ._builder import build_model_with_cfg, count_params, load_pretrained, resolve_pretrained_cfg
from ._factory import create_model, parse_model_name
from ._helpers import clean_state_dict, file_sha256, load_state_dict
from ._hub import (
    bundled_weights_dir,
    load_config,
    make_model_card,
    push_to_hub,
    resolve_pretrained_file,
    save_pretrained,
)
from ._layers import NonNegativeOutput
from ._pretrained import DefaultCfg, PretrainedCfg, generate_default_cfgs
from ._registry import (
    get_model_entrypoint,
    get_pretrained_cfg,
    is_model,
    list_aliases,
    list_models,
    list_pretrained,
    register_model,
    register_model_aliases,
    register_pretrained_cfg,
    resolve_model_name,
    split_model_name_tag,
)

__all__ = [
    "DefaultCfg",
    "NonNegativeOutput",
    "PretrainedCfg",
    "build_model_with_cfg",
    "bundled_weights_dir",
    "clean_state_dict",
    "count_params",
    "create_model",
    "file_sha256",
    "generate_default_cfgs",
    "get_model_entrypoint",
    "get_pretrained_cfg",
    "is_model",
    "list_aliases",
    "list_models",
    "list_pretrained",
    "load_config",
    "load_pretrained",
    "load_state_dict",
    "make_model_card",
    "parse_model_name",
    "push_to_hub",
    "register_model",
    "register_model_aliases",
    "register_pretrained_cfg",
    "resolve_model_name",
    "resolve_pretrained_cfg",
    "resolve_pretrained_file",
    "save_pretrained",
    "split_model_name_tag",
]
