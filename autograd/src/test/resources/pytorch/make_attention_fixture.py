#!/usr/bin/env python3
"""Writes attention.safetensors: for each case below, an nn.MultiheadAttention,
nn.TransformerEncoderLayer or nn.TransformerEncoder state dict under PyTorch's own keys (every
parameter moved off its init by a random amount, so zero biases and unit norms are exercised too),
the inputs and masks, and what PyTorch computes: the output (and the attention weights where the
case asks for them) and the gradients of
    L = sum(output * v_output) (+ sum(weights * v_weights))
with respect to the inputs and every parameter (the v's are saved too).
AttentionPyTorchTest runs the same cases (keep the CASES tables of both in step). Dropout is 0 and
the modules are in training mode with gradients on, so PyTorch takes its reference (not its fused
inference) path.

Run with Debian's python3-torch: /usr/bin/python3 make_attention_fixture.py (PyTorch 1.13 was used)
The safetensors file is written by hand, as in make_fixture.py.
"""
import json
import struct

import torch
import torch.nn as nn

E, H, N, L, S, FF = 8, 2, 3, 4, 5, 16
# MultiheadAttention cases:
# name: (batch_first, bias, self-attention, key padding mask, attn mask kind, need weights, average)
MHA = {
    "mha_self_bf": (True, True, True, False, None, True, True),
    "mha_self_kpm_causal": (False, True, True, True, "causal", True, False),
    "mha_cross_bf_bool": (True, True, False, True, "bool", True, True),
    "mha_cross_nobias_float3d": (False, False, False, False, "float3d", False, True),
}
# encoder cases: name: (layers (0 = a lone TransformerEncoderLayer), norm_first, activation,
#                       batch_first, key padding mask, causal mask, final norm)
ENC = {
    "layer_post_relu_bf_kpm": (0, False, "relu", True, True, False, False),
    "layer_pre_gelu_causal": (0, True, "gelu", False, False, True, False),
    "encoder_2l_pre_gelu_bf_norm": (2, True, "gelu", True, True, True, True),
    "encoder_2l_post_relu": (2, False, "relu", False, True, False, False),
}


def perturb(m, dtype):
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.2 * torch.randn(p.shape, dtype=dtype))


def kpm():
    # key 4 of sample 0 and keys 2..4 of sample 2 are padding; no sample is all padding
    m = torch.zeros(N, S, dtype=torch.bool)
    m[0, 4] = True
    m[2, 2:] = True
    return m


out = {}
torch.manual_seed(0)
for dtype, suffix in ((torch.float64, "f64"), (torch.float32, "f32")):
    for name, (bf, bias, self_attn, pad, mask_kind, need, avg) in MHA.items():
        key = f"{name}_{suffix}."
        m = nn.MultiheadAttention(E, H, bias=bias, batch_first=bf).to(dtype)
        perturb(m, dtype)
        tq, tk = (S, S) if self_attn else (L, S)
        shape = (lambda t: (N, t, E)) if bf else (lambda t: (t, N, E))
        q = torch.randn(shape(tq), dtype=dtype, requires_grad=True)
        if self_attn:
            k = v = q
        else:
            k = torch.randn(shape(tk), dtype=dtype, requires_grad=True)
            v = torch.randn(shape(tk), dtype=dtype, requires_grad=True)
        kp = kpm() if pad else None
        am = None
        if mask_kind == "causal":
            am = nn.Transformer.generate_square_subsequent_mask(tq).to(dtype)
        elif mask_kind == "bool":
            am = torch.rand(tq, tk) < 0.3
            am[:, 0] = False  # every query keeps key 0
        elif mask_kind == "float3d":
            am = torch.randn(N * H, tq, tk, dtype=dtype)
        o, w = m(q, k, v, key_padding_mask=kp, need_weights=need, attn_mask=am,
                 average_attn_weights=avg)
        v_out = torch.randn(o.shape, dtype=dtype)
        loss = (o * v_out).sum()
        if need:
            v_w = torch.randn(w.shape, dtype=dtype)
            loss = loss + (w * v_w).sum()
            out[key + "v_weights"] = v_w
            out[key + "weights"] = w.detach()
        loss.backward()
        for kk, vv in m.state_dict().items():
            out[key + "state." + kk] = vv.clone()
        out[key + "query"] = q.detach()
        out[key + "grad.query"] = q.grad
        if not self_attn:
            out[key + "key"] = k.detach()
            out[key + "value"] = v.detach()
            out[key + "grad.key"] = k.grad
            out[key + "grad.value"] = v.grad
        if kp is not None:
            out[key + "key_padding_mask"] = kp
        if am is not None:
            out[key + "attn_mask"] = am
        out[key + "v_output"] = v_out
        out[key + "output"] = o.detach()
        for kk, p in m.named_parameters():
            out[key + "grad." + kk] = p.grad.clone()

    for name, (layers, prenorm, act, bf, pad, causal, final_norm) in ENC.items():
        key = f"{name}_{suffix}."
        layer = nn.TransformerEncoderLayer(E, H, dim_feedforward=FF, dropout=0.0, activation=act,
                                           batch_first=bf, norm_first=prenorm).to(dtype)
        if layers == 0:
            m = layer
        else:
            norm = nn.LayerNorm(E).to(dtype) if final_norm else None
            m = nn.TransformerEncoder(layer, layers, norm=norm, enable_nested_tensor=False)
        perturb(m, dtype)
        x = torch.randn((N, S, E) if bf else (S, N, E), dtype=dtype, requires_grad=True)
        kp = kpm() if pad else None
        am = nn.Transformer.generate_square_subsequent_mask(S).to(dtype) if causal else None
        if layers == 0:
            o = m(x, src_mask=am, src_key_padding_mask=kp)
        else:
            o = m(x, mask=am, src_key_padding_mask=kp)
        v_out = torch.randn(o.shape, dtype=dtype)
        (o * v_out).sum().backward()
        for kk, vv in m.state_dict().items():
            out[key + "state." + kk] = vv.clone()
        out[key + "input"] = x.detach()
        out[key + "grad.input"] = x.grad
        if kp is not None:
            out[key + "key_padding_mask"] = kp
        if am is not None:
            out[key + "attn_mask"] = am
        out[key + "v_output"] = v_out
        out[key + "output"] = o.detach()
        for kk, p in m.named_parameters():
            out[key + "grad." + kk] = p.grad.clone()

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.bool: "BOOL"}
header, blobs, offset = {}, [], 0
for k, v in out.items():
    data = v.contiguous().numpy().tobytes()
    header[k] = {"dtype": DTYPES[v.dtype], "shape": list(v.shape),
                 "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open("attention.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for b in blobs:
        f.write(b)
print("wrote attention.safetensors:", len(out), "tensors, torch", torch.__version__)
