"""Tiny forecasting models for the forecasting tests, built offline in under a second: the real
architectures and config layouts of the published checkpoints (amazon/chronos-2,
amazon/chronos-bolt-*), random weights, a few thousand parameters.

- `build_tiny_chronos2(path)`: a Chronos-2 (`Chronos2Model`, 2 layers, d_model 32, 21 quantiles,
  patches of 16, context 512, up to 4 output patches = 64 steps in one pass, covariates supported);
- `build_tiny_chronos_bolt(path)`: a Chronos-Bolt (`ChronosBoltModelForForecasting` on a T5 of
  d_model 32, 9 quantiles, patches of 16, context 512, prediction length 16);
- `build_tiny_timesfm(path)`: a TimesFM 2.5 (model dims 32, 1 layer; the real patch and quantile sizes);
- `build_tiny_toto(path)`: a Toto 1.0 (embed dim 32, 2 layers, patches of 8, Student-t mixture);
- `build_tiny_toto2(path)`: a Toto 2.0 (d_model 32, 2 layers, patches of 8, 9 quantile knots).

The Chronos folders load through `chronos.BaseChronosPipeline.from_pretrained(path, device_map="cpu")`.
Weights are seeded, so two builds give the same model.
"""

from pathlib import Path

# The quantile grids of the published checkpoints: 21 levels for amazon/chronos-2, 9 for chronos-bolt.
CHRONOS2_QUANTILES = [0.01] + [round(0.05 * i, 2) for i in range(1, 20)] + [0.99]
BOLT_QUANTILES = [round(0.1 * i, 1) for i in range(1, 10)]

CHRONOS2_CONTEXT_LENGTH = 512
CHRONOS2_PATCH = 16
CHRONOS2_MAX_OUTPUT_PATCHES = 4
BOLT_PREDICTION_LENGTH = 16


def build_tiny_chronos2(path: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Chronos-2 to `path` (created) and return `path`.

    Config as amazon/chronos-2's `config.json` (`Chronos2CoreConfig`, `chronos_pipeline_class`
    "Chronos2Pipeline", `chronos_config` with context 512, input/output patches of 16, 21 quantiles,
    REG token, arcsinh scaling, time encoding scale 512), sized down: d_model 32, d_kv 8, d_ff 64,
    2 layers, 4 heads. `max_output_patches` 4: one pass covers 64 steps.
    """
    import torch
    from chronos.chronos2.config import Chronos2CoreConfig
    from chronos.chronos2.model import Chronos2Model

    torch.manual_seed(seed)
    config = Chronos2CoreConfig(
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        architectures=["Chronos2Model"],
        chronos_pipeline_class="Chronos2Pipeline",
        chronos_config={
            "context_length": CHRONOS2_CONTEXT_LENGTH,
            "input_patch_size": CHRONOS2_PATCH,
            "input_patch_stride": CHRONOS2_PATCH,
            "output_patch_size": CHRONOS2_PATCH,
            "quantiles": CHRONOS2_QUANTILES,
            "use_reg_token": True,
            "use_arcsinh": True,
            "max_output_patches": CHRONOS2_MAX_OUTPUT_PATCHES,
            "time_encoding_scale": CHRONOS2_CONTEXT_LENGTH,
        },
    )
    model = Chronos2Model(config)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    return path


def build_tiny_chronos_bolt(path: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Chronos-Bolt to `path` (created) and return `path`.

    Config as amazon/chronos-bolt-tiny's `config.json` (a T5 config, `architectures`
    ["ChronosBoltModelForForecasting"], `chronos_pipeline_class` "ChronosBoltPipeline",
    `chronos_config` with context 512, prediction length 16, input patches of 16, 9 quantiles,
    REG token), sized down: d_model 32, d_kv 8, d_ff 64, 1 encoder and 1 decoder layer, 4 heads.
    transformers 5 needs `decoder_start_token_id` set (0, as the checkpoints have it).
    """
    import torch
    from chronos.chronos_bolt import ChronosBoltModelForForecasting
    from transformers import T5Config

    torch.manual_seed(seed)
    config = T5Config(
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        vocab_size=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        feed_forward_proj="relu",
        is_encoder_decoder=True,
        architectures=["ChronosBoltModelForForecasting"],
        chronos_pipeline_class="ChronosBoltPipeline",
        chronos_config={
            "context_length": CHRONOS2_CONTEXT_LENGTH,
            "prediction_length": BOLT_PREDICTION_LENGTH,
            "input_patch_size": CHRONOS2_PATCH,
            "input_patch_stride": CHRONOS2_PATCH,
            "quantiles": BOLT_QUANTILES,
            "use_reg_token": True,
        },
    )
    model = ChronosBoltModelForForecasting(config)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    return path


def build_tiny_timesfm(path: Path, *, seed: int = 0) -> Path:
    """Save a tiny random TimesFM 2.5 to `path` (created) and return `path`.

    TimesFM 2.5's architecture is a class attribute (`TimesFM_2p5_200M_torch_module.config`): the
    tiny definition (model dims 32, 1 layer, 4 heads; the real patch lengths, quantile grid and
    output projection sizes) is set for the build and written as the `definition` block of
    `config.json`, which `apps.forecasting.engines.timesfm` reads back. Weights: `model.safetensors`
    as the published checkpoint has them.
    """
    import json

    import torch
    from timesfm import configs
    from timesfm.timesfm_2p5 import timesfm_2p5_base, timesfm_2p5_torch

    from apps.forecasting.engines.timesfm import definition_as_config

    definition = timesfm_2p5_base.TimesFM_2p5_200M_Definition(
        tokenizer=configs.ResidualBlockConfig(
            input_dims=64, hidden_dims=32, output_dims=32, use_bias=True, activation="swish"
        ),
        stacked_transformers=configs.StackedTransformersConfig(
            num_layers=1,
            transformer=configs.TransformerConfig(
                model_dims=32,
                hidden_dims=32,
                num_heads=4,
                attention_norm="rms",
                feedforward_norm="rms",
                qk_norm="rms",
                use_bias=False,
                use_rotary_position_embeddings=True,
                ff_activation="swish",
                fuse_qkv=True,
            ),
        ),
        output_projection_point=configs.ResidualBlockConfig(
            input_dims=32, hidden_dims=32, output_dims=1280, use_bias=False, activation="swish"
        ),
        output_projection_quantiles=configs.ResidualBlockConfig(
            input_dims=32, hidden_dims=32, output_dims=10240, use_bias=False, activation="swish"
        ),
    )
    module_cls = timesfm_2p5_torch.TimesFM_2p5_200M_torch_module
    original = module_cls.config
    torch.manual_seed(seed)
    try:
        module_cls.config = definition
        model = timesfm_2p5_torch.TimesFM_2p5_200M_torch(torch_compile=False)
    finally:
        module_cls.config = original
    path = Path(path)
    model.save_pretrained(path)
    (path / "config.json").write_text(json.dumps(definition_as_config(definition)))
    return path


TOTO_CONFIG = {
    "patch_size": 8,
    "stride": 8,
    "embed_dim": 32,
    "num_layers": 2,
    "num_heads": 4,
    "mlp_hidden_dim": 64,
    "dropout": 0.0,
    "spacewise_every_n_layers": 2,
    "scaler_cls": "<class 'model.scaler.CausalPatchStdMeanScaler'>",
    "output_distribution_classes": ["<class 'model.distribution.MixtureOfStudentTsOutput'>"],
    "output_distribution_kwargs": {"k_components": 4},
    "spacewise_first": True,
    "use_memory_efficient_attention": False,
    "stabilize_with_global": True,
    "scale_factor_exponent": 10.0,
}


def build_tiny_toto(path: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Toto 1.0 to `path` (created) and return `path`.

    Datadog/Toto-Open-Base-1.0's layout: `config.json` (the `Toto` constructor's arguments, with
    the class names as the checkpoint spells them: causal patch std-mean scaler, mixture of
    Student-t outputs) and `model.safetensors`; sized down to embed dim 32, 2 layers, 4 heads,
    patches of 8. Loads with `Toto.load_from_checkpoint(path)`.
    """
    import json

    import torch
    from safetensors.torch import save_file
    from toto.model.toto import Toto

    torch.manual_seed(seed)
    model = Toto(**TOTO_CONFIG)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()}, path / "model.safetensors")
    (path / "config.json").write_text(json.dumps(TOTO_CONFIG))
    return path


def build_tiny_toto2(path: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Toto 2.0 to `path` (created) and return `path`.

    Datadog/Toto-2.0-*'s layout (`Toto2Model.save_pretrained`: `config.json` with the
    `Toto2ModelConfig` fields, `model.safetensors`), sized down: d_model 32, 4 heads, 2 layers in one
    group (a variate layer and a time layer), patches of 8, 9 quantile knots. Loads with
    `Toto2Model.from_pretrained(path)`.
    """
    import torch
    from toto2 import Toto2Model, Toto2ModelConfig

    config = Toto2ModelConfig(
        patch_size=8,
        d_model=32,
        num_heads=4,
        num_layers=2,
        layer_group_size=2,
        num_variate_layers_per_group=1,
        variate_layer_first=False,
        residual_attn_ratio=Toto2ModelConfig.compute_residual_attn_ratio(512, 8),
    )
    torch.manual_seed(seed)
    path = Path(path)
    Toto2Model(config).save_pretrained(path)
    return path
