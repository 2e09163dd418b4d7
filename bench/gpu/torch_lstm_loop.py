#!/usr/bin/env python3
"""The multi-model baseline as a researcher would write it: 518 PyTorch LSTM classifiers (cuDNN),
trained one after another for one epoch each, on the data set bench_lstm_gpu's BM_MultiModelEpoch
trains our multi-model trainer on (same hash formula, same shapes, same optimiser settings).

Timed end to end per mode, like ours: creating each model on the device, uploading its data, every
minibatch step (forward, BCE-with-logits, backward, clipping at 1.0, AdamW lr 1e-3 without weight
decay), and its trained parameters back on the host. Two modes: TF32 allowed (PyTorch's default for
cuDNN) and pure float32 (FMA; what our trainer computes). With --ours the benchmark's JSON is read and
the ratios printed. Run on the GPU machine (bench/gpu/device_run.sh calls it); needs torch and numpy.

Usage: torch_lstm_loop.py [--models 518] [--json out.json] [--ours bench_lstm_gpu.json]
"""
import argparse
import json
import time

import numpy as np
import torch

STEPS, FEATURES, HIDDEN, BATCH, SAMPLES = 60, 16, 64, 64, 512
MASK = np.uint64(0xFFFFFFFF)


def sample_values(n):
    """x[s, t, f] and y[s] of model n: bench_lstm_gpu.cpp's sample_value, in uint32 arithmetic."""
    s = np.arange(SAMPLES, dtype=np.uint64)[:, None, None]
    t = np.arange(STEPS, dtype=np.uint64)[None, :, None]
    f = np.arange(FEATURES, dtype=np.uint64)[None, None, :]
    h = ((np.uint64(n) * np.uint64(73856093)) ^ (s * np.uint64(19349663)) ^ (t * np.uint64(83492791))
         ^ (f * np.uint64(2654435761))) & MASK
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0x5BD1E995)) & MASK
    h ^= h >> np.uint64(15)
    x = h.astype(np.float32) / np.float32(4294967296.0) - np.float32(0.5)
    y = (x[:, STEPS - 1, 0] > 0).astype(np.float32)
    return np.ascontiguousarray(x), y


class Classifier(torch.nn.Module):
    """nn::LSTMClassifier: LSTM -> Linear(H, 1) on the last hidden state."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(FEATURES, HIDDEN, batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, 1)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1]).squeeze(1)


def train_one(n, x_host, y_host):
    torch.manual_seed(n)
    model = Classifier().cuda()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    x, y = torch.from_numpy(x_host).cuda(), torch.from_numpy(y_host).cuda()
    for first in range(0, SAMPLES, BATCH):
        optimiser.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[first:first + BATCH]),
                                                                    y[first:first + BATCH])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    return {k: v.cpu() for k, v in model.state_dict().items()}


def one_epoch_seconds(data, tf32):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    for n in range(3):  # warm-up: cuDNN plans, allocator, kernels loaded
        train_one(n, *data[n])
    torch.cuda.synchronize()
    begin = time.perf_counter()
    for n, (x, y) in enumerate(data):
        train_one(n, x, y)
    torch.cuda.synchronize()
    return time.perf_counter() - begin


def ours_seconds(path):
    """BM_MultiModelEpoch's mean wall time per variant, from Google Benchmark's JSON."""
    with open(path) as f:
        report = json.load(f)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    out = {}
    for b in report.get("benchmarks", []):
        if b["name"].startswith("BM_MultiModelEpoch") and b.get("run_type", "iteration") == "iteration" \
                and not b.get("error_occurred"):
            variant = "pageable" if "pageable:1" in b["name"] else "pinned"
            out[variant] = b["real_time"] * scale[b.get("time_unit", "ns")]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=518)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--ours", help="bench_lstm_gpu's --benchmark_out JSON, for the ratios")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("torch_lstm_loop: no CUDA device; skipped")
        return
    data = [sample_values(n) for n in range(args.models)]
    result = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "models": args.models, "samples": SAMPLES, "batch": BATCH, "steps": STEPS, "features": FEATURES,
        "hidden": HIDDEN,
        "torch_loop_seconds": {"tf32 (PyTorch default)": one_epoch_seconds(data, True),
                               "float32": one_epoch_seconds(data, False)},
    }
    print(f"PyTorch {result['torch']} cuDNN {result['cudnn']} on {result['device']}: {args.models} models "
          f"one after another, one epoch of {SAMPLES} samples each")
    for mode, seconds in result["torch_loop_seconds"].items():
        print(f"  {mode:24s} {seconds:8.3f} s")
    if args.ours:
        try:
            ours = ours_seconds(args.ours)
        except (OSError, ValueError, KeyError) as e:
            ours = {}
            print(f"  (could not read {args.ours}: {e})")
        scale = 518 / args.models  # ours always trains 518
        result["ours_seconds"] = ours
        for variant, seconds in ours.items():
            for mode, theirs in result["torch_loop_seconds"].items():
                ratio = theirs * scale / seconds
                result.setdefault("speedup", {})[f"ours {variant} vs torch {mode}"] = ratio
                print(f"  ours ({variant} uploads) {seconds:.3f} s: {ratio:.1f}x faster than the torch loop, {mode}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
