"""The inference stage: an ONNX Runtime session that honours the model contract.

The session checks, once at load, that the model is what the node expects (inputs, outputs,
class count, metadata) so a wrong file fails at start-up with one clear message instead of
a traceback on the first frame. Providers are tried in the configured order and the one
really used is reported; a fall-back is a warning, never silent.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from sgnet_ros.pipeline.contract import (
    INPUT_RGB,
    INPUT_SPATIAL,
    OUTPUT_LABELS,
    OUTPUT_LOGITS,
    ContractError,
    ModelContract,
)

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
# Ops ORT keeps on the CPU by design (shape arithmetic): not a fall-back worth reporting.
SHAPE_OPS = frozenset({"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast",
                       "Reshape", "ConstantOfShape", "Range", "Expand"})
DEFAULT_ORDER = ("cuda", "cpu")  # the `providers` parameter's default
_TORCH_TO_ORT_TYPE = {torch.float32: np.float32, torch.int64: np.int64, torch.float16: np.float16}


class ModelLoadError(RuntimeError):
    """The model file cannot serve the node: missing, corrupt or off-contract."""


@dataclass(frozen=True)
class ProviderOptions:
    """How to set up the execution providers."""

    order: Sequence[str] = DEFAULT_ORDER
    tensorrt_cache_dir: str = ""
    tensorrt_fp16: bool = False
    threads: int = 0  # ONNX Runtime intra-op threads; 0 = its own choice (one per core)


@dataclass
class ProviderReport:
    """What was asked for, what was available and what the session really uses."""

    requested: list[str]
    active: list[str]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth an INFO line, nothing to act on
    tensorrt_cache: Path | None = None  # where TensorRT engines are cached, when requested

    @property
    def primary(self) -> str:
        return self.active[0] if self.active else "none"


def read_contract(model_path: str | Path) -> ModelContract:
    """The contract stored in a model file's metadata (no session needed)."""
    path = Path(model_path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and friends from protobuf
        raise ModelLoadError(f"model file {path} is not a readable ONNX file: {error}") from error
    try:
        return ModelContract.from_metadata({p.key: p.value for p in model.metadata_props})
    except ContractError as error:
        raise ModelLoadError(f"model file {path}: {error}") from error


def _provider_list(options: ProviderOptions, report: ProviderReport) -> list:
    available = set(ort.get_available_providers())
    providers: list = []
    for name in dict.fromkeys(options.order):  # each once, first position wins
        if name not in PROVIDERS:
            raise ModelLoadError(f"unknown execution provider {name!r}; use {sorted(PROVIDERS)}")
        ort_name = PROVIDERS[name]
        if ort_name not in available:
            # The default list tries CUDA on every machine: a CPU user has nothing to fix.
            asked = "requested" if list(options.order) != list(DEFAULT_ORDER) \
                else "in the default provider list"
            (report.warnings if asked == "requested" else report.notes).append(
                f"{ort_name} {asked} but this onnxruntime build lacks it "
                f"(available: {', '.join(sorted(available))}); install onnxruntime-gpu for "
                "CUDA/TensorRT")
            continue
        if name == "cuda":
            providers.append((ort_name, {"cudnn_conv_algo_search": "HEURISTIC"}))
        elif name == "tensorrt":
            cache = Path(options.tensorrt_cache_dir or
                         Path.home() / ".cache" / "sgnet_ros" / "tensorrt")
            cache.mkdir(parents=True, exist_ok=True)
            report.tensorrt_cache = cache
            providers.append((ort_name, {"trt_engine_cache_enable": True,
                                         "trt_engine_cache_path": str(cache),
                                         "trt_fp16_enable": options.tensorrt_fp16}))
        else:
            providers.append(ort_name)
    if not providers:
        report.warnings.append("no requested provider is available; using CPUExecutionProvider")
        providers.append(PROVIDERS["cpu"])
    return providers


class OnnxSegmenter:
    """An ONNX Runtime session for one SGNet-contract model."""

    def __init__(self, model_path: str | Path, options: ProviderOptions | None = None,
                 io_binding: bool = True) -> None:
        options = options or ProviderOptions()
        self.model_path = Path(model_path)
        self.contract = read_contract(self.model_path)
        self.report = ProviderReport(requested=list(options.order), active=[])
        providers = _provider_list(options, self.report)
        session_options = ort.SessionOptions()
        session_options.log_severity_level = 3  # ORT's own warnings would flood the node's log
        # Spinning worker threads burn the cores other nodes (and torch) need between frames;
        # on a shared 2-core machine turning it off halved the wall time.
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session_options.intra_op_num_threads = options.threads
        try:
            self.session = ort.InferenceSession(str(self.model_path), session_options,
                                                providers=providers)
        except Exception as error:
            raise ModelLoadError(
                f"ONNX Runtime cannot load {self.model_path}: {error}") from error
        self.report.active = self.session.get_providers()
        for wanted in providers:
            wanted_name = wanted[0] if isinstance(wanted, tuple) else wanted
            if wanted_name not in self.report.active:
                self.report.warnings.append(
                    f"{wanted_name} failed to initialise (missing CUDA/cuDNN/TensorRT libraries?)"
                    f"; running on {self.report.primary}")
        self.output_name = self._check_signature()
        self.io_binding = io_binding
        self._output_shapes: dict[tuple, tuple[int, ...]] = {}
        self._on_cuda = self.report.primary in (PROVIDERS["cuda"], PROVIDERS["tensorrt"])

    def _check_signature(self) -> str:
        contract = self.contract
        inputs = {node.name: node for node in self.session.get_inputs()}
        expected = {INPUT_RGB: 3, INPUT_SPATIAL: contract.spatial_channels}
        for name, channels in expected.items():
            if name not in inputs:
                raise ModelLoadError(
                    f"model {self.model_path} has inputs {sorted(inputs)}; the contract needs "
                    f"'{INPUT_RGB}' and '{INPUT_SPATIAL}'")
            shape = inputs[name].shape
            if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != channels):
                raise ModelLoadError(
                    f"model input '{name}' has shape {shape}; expected (N, {channels}, H, W) for "
                    f"spatial mode {contract.spatial_mode!r}")
        outputs = {node.name: node for node in self.session.get_outputs()}
        if OUTPUT_LOGITS in outputs:
            shape = outputs[OUTPUT_LOGITS].shape
            if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != contract.num_classes):
                raise ModelLoadError(
                    f"model output '{OUTPUT_LOGITS}' has shape {shape} but the metadata names "
                    f"{contract.num_classes} classes")
            return OUTPUT_LOGITS
        if OUTPUT_LABELS in outputs:
            return OUTPUT_LABELS
        raise ModelLoadError(
            f"model {self.model_path} has outputs {sorted(outputs)}; the contract needs "
            f"'{OUTPUT_LOGITS}' or '{OUTPUT_LABELS}'")

    @property
    def device(self) -> torch.device:
        """Where the session wants its inputs: CUDA tensors go straight in through IO binding."""
        return torch.device("cuda") if self._on_cuda and torch.cuda.is_available() \
            else torch.device("cpu")

    def placement(self, rgb: torch.Tensor, spatial: torch.Tensor) -> dict[str, Counter]:
        """provider -> {op type: kernels run} for one profiled run of these inputs.

        A model can load on the CUDA provider and still run some ops on the CPU (ORT assigns
        op by op); only a profiled run shows where each kernel really ran.
        """
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.enable_profiling = True
        with tempfile.TemporaryDirectory() as directory:
            options.profile_file_prefix = str(Path(directory) / "placement")
            session = ort.InferenceSession(str(self.model_path), options,
                                           providers=self.session.get_providers())
            session.run([self.output_name], {INPUT_RGB: rgb.cpu().numpy(),
                                             INPUT_SPATIAL: spatial.cpu().numpy()})
            events = json.loads(Path(session.end_profiling()).read_text())
        placement: dict[str, Counter] = {}
        for event in events:
            args = event.get("args", {})
            if event.get("cat") == "Node" and "provider" in args and "op_name" in args:
                placement.setdefault(args["provider"], Counter())[args["op_name"]] += 1
        return placement

    def cpu_fallback_ops(self) -> Counter:
        """Compute ops (not shape arithmetic) that run on the CPU although a GPU provider is
        in use; empty when the session is on the CPU by choice."""
        if self.report.primary == PROVIDERS["cpu"]:
            return Counter()
        height, width = self.contract.input_size
        rgb = torch.zeros(1, 3, height, width)
        spatial = torch.zeros(1, self.contract.spatial_channels, height, width)
        on_cpu = self.placement(rgb, spatial).get(PROVIDERS["cpu"], Counter())
        return Counter({op: n for op, n in on_cpu.items() if op not in SHAPE_OPS})

    def run(self, rgb: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        """Normalised (N,3,H,W) and (N,C,H,W) float32 tensors -> logits (N,K,h,w) or labels."""
        if self.io_binding:
            return self._run_bound(rgb.contiguous(), spatial.contiguous())
        feeds = {INPUT_RGB: rgb.cpu().numpy(), INPUT_SPATIAL: spatial.cpu().numpy()}
        return torch.from_numpy(self.session.run([self.output_name], feeds)[0])

    def _run_bound(self, rgb: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        """Run with inputs and output bound in place on the tensors' device (zero copy).

        The output shape of an input shape is learnt on its first run (ORT allocates then),
        after which the output is a preallocated torch tensor on the same device.
        """
        binding = self.session.io_binding()
        device_type, device_id = rgb.device.type, rgb.device.index or 0
        if device_type == "cuda":
            # ORT runs on its own CUDA stream: the inputs torch queued must be written first.
            # (ORT's Run returns only once its stream is done, so the output is safe to read.)
            torch.cuda.current_stream(rgb.device).synchronize()
        for name, tensor in ((INPUT_RGB, rgb), (INPUT_SPATIAL, spatial)):
            binding.bind_input(name, device_type, device_id, _TORCH_TO_ORT_TYPE[tensor.dtype],
                               tuple(tensor.shape), tensor.data_ptr())
        key = (tuple(rgb.shape), tuple(spatial.shape))
        shape = self._output_shapes.get(key)
        if shape is None:
            binding.bind_output(self.output_name, device_type, device_id)
            self.session.run_with_iobinding(binding)
            result = torch.from_numpy(binding.copy_outputs_to_cpu()[0])
            self._output_shapes[key] = tuple(result.shape)
            return result.to(rgb.device)
        dtype = torch.float32 if self.output_name == OUTPUT_LOGITS else torch.int64
        output = torch.empty(shape, dtype=dtype, device=rgb.device)
        binding.bind_output(self.output_name, device_type, device_id,
                            _TORCH_TO_ORT_TYPE[dtype], shape, output.data_ptr())
        self.session.run_with_iobinding(binding)
        return output
