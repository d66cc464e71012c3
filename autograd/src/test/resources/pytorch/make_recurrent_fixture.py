#!/usr/bin/env python3
"""Writes recurrent.safetensors: for each case below, an nn.LSTM / nn.GRU state dict under
PyTorch's own keys, an input (and h0/c0, lengths where the case has them), and what PyTorch
computes: output, h_n, c_n, and the gradients of
    L = sum(output * v_output) + sum(h_n * v_h) (+ sum(c_n * v_c))
with respect to the input, h0, c0 and every parameter (the v's are saved too).
Variable-length cases go through pack_padded_sequence(enforce_sorted=False) and
pad_packed_sequence(total_length=T), which is what Ember's `lengths` must equal.
RecurrentPyTorchTest runs the same cases (keep the CASES table of both in step).

Run with Debian's python3-torch: /usr/bin/python3 make_recurrent_fixture.py (PyTorch 1.13 was used)
The safetensors file is written by hand, as in make_fixture.py.
"""
import json
import struct

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

T, B, I, H = 5, 3, 3, 4
# name: (cell, layers, bidirectional, batch_first, bias, lengths or None, with initial states)
CASES = {
    "lstm_1l": ("lstm", 1, False, False, True, None, False),
    "lstm_2l_bidir_bf_init": ("lstm", 2, True, True, True, None, True),
    "lstm_2l_bidir_packed": ("lstm", 2, True, False, True, [5, 2, 4], True),
    "lstm_1l_nobias_packed_bf": ("lstm", 1, False, True, False, [3, 5, 1], False),
    "gru_1l": ("gru", 1, False, False, True, None, False),
    "gru_2l_bidir_bf_init": ("gru", 2, True, True, True, None, True),
    "gru_2l_bidir_packed": ("gru", 2, True, False, True, [5, 2, 4], True),
    "gru_1l_nobias_packed_bf": ("gru", 1, False, True, False, [3, 5, 1], False),
}

out = {}
torch.manual_seed(0)
for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
    for name, (cell, layers, bidir, bf, bias, lengths, init) in CASES.items():
        key = f"{name}_{suffix}."
        cls = nn.LSTM if cell == "lstm" else nn.GRU
        m = cls(I, H, num_layers=layers, bidirectional=bidir, batch_first=bf, bias=bias).to(dtype)
        d = 2 if bidir else 1
        x = torch.randn(*((B, T, I) if bf else (T, B, I)), dtype=dtype, requires_grad=True)
        h0 = torch.randn(layers * d, B, H, dtype=dtype, requires_grad=True) if init else None
        c0 = torch.randn(layers * d, B, H, dtype=dtype, requires_grad=True) if init else None
        state = None
        if init:
            state = (h0, c0) if cell == "lstm" else h0
        if lengths is None:
            output, hidden = m(x, state)
        else:
            packed = pack_padded_sequence(
                x, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
            po, hidden = m(packed, state)
            output, _ = pad_packed_sequence(po, batch_first=bf, total_length=T)
        h_n, c_n = hidden if cell == "lstm" else (hidden, None)
        v_out = torch.randn(output.shape, dtype=dtype)
        v_h = torch.randn(h_n.shape, dtype=dtype)
        loss = (output * v_out).sum() + (h_n * v_h).sum()
        if c_n is not None:
            v_c = torch.randn(c_n.shape, dtype=dtype)
            loss = loss + (c_n * v_c).sum()
            out[key + "v_c"] = v_c
            out[key + "c_n"] = c_n.detach()
        loss.backward()
        for k, v in m.state_dict().items():
            out[key + "state." + k] = v.clone()
        out[key + "input"] = x.detach()
        if init:
            out[key + "h0"] = h0.detach()
            out[key + "grad.h0"] = h0.grad
            if cell == "lstm":
                out[key + "c0"] = c0.detach()
                out[key + "grad.c0"] = c0.grad
        if lengths is not None:
            out[key + "lengths"] = torch.tensor(lengths, dtype=torch.int64)
        out[key + "v_output"] = v_out
        out[key + "v_h"] = v_h
        out[key + "output"] = output.detach()
        out[key + "h_n"] = h_n.detach()
        out[key + "grad.input"] = x.grad
        for k, p in m.named_parameters():
            out[key + "grad." + k] = p.grad.clone()

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64"}
header, blobs, offset = {}, [], 0
for k, v in out.items():
    data = v.contiguous().numpy().tobytes()
    header[k] = {"dtype": DTYPES[v.dtype], "shape": list(v.shape),
                 "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open("recurrent.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for b in blobs:
        f.write(b)
print("wrote recurrent.safetensors:", len(out), "tensors, torch", torch.__version__)
