"""The examples' sequence models in PyTorch, the twins of Ember's, for pytorch_train.py and
pytorch_fashion_accuracy.py.

RowLstm (Ember's RowLstm): each image as 28 steps of one 28-pixel row, LSTM(128) batch_first, the
last step, linear(10).

PatchTransformer (Ember's PatchTransformer and its NetworkSpec):

patches(7), linear(64), clsToken, posEmbedding(std=0.02), transformer(64, 4, 128, layers=2,
dropout=0, prenorm, gelu), clsPool, linear(10): 28x28 images as 16 patches of 7x7 pixels in ViT's
order, a zero-initialised CLS token in front, learned positions N(0, 0.02^2), two pre-norm GELU
encoder layers of 4 heads and a 128-wide feed-forward block with a final LayerNorm, the CLS
position's features into the classifier.
"""
import torch
from torch import nn


class RowLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
        return self.fc(out[:, -1, :])


class PatchTransformer(nn.Module):
    def __init__(self, patch=7, dim=64, heads=4, ff=128, layers=2, classes=10, side=28):
        super().__init__()
        self.patch = patch
        tokens = (side // patch) ** 2
        self.embed = nn.Linear(patch * patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(tokens + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, ff, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(dim),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        n = x.shape[0]
        p = self.patch
        x = x.reshape(n, 1, 28 // p, p, 28 // p, p).permute(0, 2, 4, 1, 3, 5)
        x = self.embed(x.reshape(n, (28 // p) ** 2, p * p))
        x = torch.cat([self.cls_token.expand(n, 1, -1), x], dim=1) + self.pos
        return self.head(self.encoder(x)[:, 0])
