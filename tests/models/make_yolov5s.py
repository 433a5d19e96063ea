#!/usr/bin/python3
"""Writes a yolov5s-v6-architecture ONNX model (opset 12, 1x3x640x640 -> 1x25200x85, Detect head with its
post-processing in the graph) with random but data-calibrated weights, named like torch's old exporter so that
the layer keys of the vendor's hybrid-quantization guide exist.  Deterministic: same bytes on every run.

usage: make_yolov5s.py OUT.onnx [--dump DIR]   (--dump saves the calibration input and numpy's output as .npy)
"""
import math
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NC, NA, NO = 80, 3, 85
ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
STRIDES = [8, 16, 32]
rng = np.random.RandomState(5)   # legacy generator: its stream is frozen across numpy versions


def dyadic(v, bits=8):
    """Rounds v > 0 to `bits` significant bits, so that a last-bit difference in the float64 statistics
    (another BLAS kernel, another CPU) cannot change the weights that are written."""
    e = np.floor(np.log2(v)).astype(int) - bits
    return np.ldexp(np.round(np.ldexp(v, -e)), e)


def conv2d(x, w, s, p):
    """float64 convolution of x (C,H,W) with w (O,C,k,k), stride s, symmetric padding p."""
    k = w.shape[2]
    if k == 1 and s == 1:
        return np.tensordot(w[:, :, 0, 0], x, axes=1)
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s]
    return np.tensordot(w, win, axes=([1, 2, 3], [0, 3, 4]))


def silu(a):
    return a / (1.0 + np.exp(-a))


def pink_noise(h, w, alpha=1.0):
    """Unit-std noise with a 1/f^alpha amplitude spectrum, the texture statistics of natural photos."""
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    f = np.maximum(np.sqrt(fy ** 2 + fx ** 2), 1.0 / max(h, w))
    t = np.fft.irfft2((rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) * f ** -alpha, (h, w))
    return t / t.std()


def synthetic_image(h=640, w=640):
    """A fixed 'photo' in [0,1]: a lit gradient with coloured boxes and discs, under a 1/f texture whose
    spectrum is close to that of real photos (a smooth image alone would leave the calibrated convs with
    activations that grow layer by layer on real photos)."""
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    img = np.stack([0.3 + 0.4 * yy, 0.5 - 0.2 * xx, 0.4 + 0.3 * xx * yy])
    for _ in range(24):
        cy, cx, ry, rx = rng.uniform(0, 1, 4) * [h, w, h / 5, w / 5] + [0, 0, 8, 8]
        col = rng.uniform(0, 1, (3, 1, 1))
        if rng.uniform() < 0.5:
            m = (np.abs(yy * h - cy) < ry) & (np.abs(xx * w - cx) < rx)
        else:
            m = ((yy * h - cy) / ry) ** 2 + ((xx * w - cx) / rx) ** 2 < 1
        img = np.where(m, col * (0.7 + 0.3 * yy), img)
    common = pink_noise(h, w)
    return np.clip(img + 0.15 * np.stack([0.8 * common + 0.2 * pink_noise(h, w) for _ in range(3)]), 0, 1)


class Net:
    """Builds the ONNX graph and, alongside, runs it in float64 numpy to calibrate each conv."""

    def __init__(self):
        self.nodes, self.inits, self.n, self.off = [], [], 0, 134

    def val(self, num):
        return str(num + self.off)          # torch numbers values apart from nodes: value = node + offset

    def node(self, op, inputs, out=None, **attrs):
        num, self.n = self.n, self.n + 1
        out = out or self.val(num)
        self.nodes.append(helper.make_node(op, inputs, [out], name=f'{op}_{num}', **attrs))
        return out

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def constant(self, arr):
        """A Constant node in one of the number gaps torch leaves (absorbed as a parameter by qpipe)."""
        t = numpy_helper.from_array(arr, self.val(self.n))
        return self.node('Constant', [], value=t)

    def conv(self, x, prefix, cout, k=1, s=1, p=None, act=True, g=None, b=None):
        """Conv with BN folded in, as BN would fold it: each output channel gets mean b and std g on the
        calibration image (default g ~ U(0.5,1.5), b ~ U(-0.5,0.5))."""
        name, a = x
        cin, p = a.shape[0], k // 2 if p is None else p
        w = rng.uniform(-1, 1, (cout, cin, k, k)) * np.sqrt(6.0 / (cin * k * k))
        y = conv2d(a, w, s, p)
        g = rng.uniform(0.5, 1.5, cout) if g is None else g
        b = rng.uniform(-0.5, 0.5, cout) if b is None else b
        scale = dyadic(g / y.std(axis=(1, 2)))
        bias = np.round((b - y.mean(axis=(1, 2)) * scale) * 4096) / 4096
        y = y * scale[:, None, None] + bias[:, None, None]
        wn = self.init(prefix + 'weight', (w * scale[:, None, None, None]).astype(np.float32))
        bn = self.init(prefix + 'bias', bias.astype(np.float32))
        out = self.node('Conv', [name, wn, bn], dilations=[1, 1], group=1, kernel_shape=[k, k],
                        pads=[p] * 4, strides=[s, s])
        if not act:
            return out, y
        sig = self.node('Sigmoid', [out])
        return self.node('Mul', [out, sig]), silu(y)

    def concat(self, xs):
        return self.node('Concat', [n for n, _ in xs], axis=1), np.concatenate([a for _, a in xs])

    def c3(self, x, i, cout, n, shortcut=True):
        c_ = cout // 2
        y = self.conv(x, f'model.{i}.cv1.conv.', c_)
        for j in range(n):
            t = self.conv(y, f'model.{i}.m.{j}.cv1.conv.', c_)
            t = self.conv(t, f'model.{i}.m.{j}.cv2.conv.', c_, 3)
            y = (self.node('Add', [y[0], t[0]]), y[1] + t[1]) if shortcut else t
        y2 = self.conv(x, f'model.{i}.cv2.conv.', c_)
        return self.conv(self.concat([y, y2]), f'model.{i}.cv3.conv.', cout)

    def sppf(self, x, i, cout):
        y = [self.conv(x, f'model.{i}.cv1.conv.', x[1].shape[0] // 2)]
        for _ in range(3):
            name, a = y[-1]
            win = np.lib.stride_tricks.sliding_window_view(
                np.pad(a, ((0, 0), (2, 2), (2, 2)), constant_values=-np.inf), (5, 5), axis=(1, 2))
            y.append((self.node('MaxPool', [name], ceil_mode=0, kernel_shape=[5, 5], pads=[2] * 4,
                                strides=[1, 1]), win.max(axis=(3, 4))))
        return self.conv(self.concat(y), f'model.{i}.cv2.conv.', cout)

    def upsample(self, x):
        out = self.node('Resize', [x[0], '462', '463'], coordinate_transformation_mode='asymmetric',
                        cubic_coeff_a=-0.75, mode='nearest', nearest_mode='floor')
        return out, x[1].repeat(2, axis=1).repeat(2, axis=2)

    def detect_head(self, x, i, first, off, pow_exp, wh_mul_const):
        """One Detect level with yolov5's export-time decoding; node numbers and initializer names as torch's."""
        ny, nx = x[1].shape[1:]
        s, self.n, self.off = STRIDES[i], first, off
        # yolov5's _initialize_biases: objectness and class priors, so that few anchors fire; wider conf logits
        prior = np.zeros(NO)
        prior[4], prior[5:] = math.log(8 / (640 / s) ** 2), math.log(0.6 / (NC - 0.99))
        g = rng.uniform(0.5, 1.5, NA * NO) * np.where(np.arange(NA * NO) % NO >= 4, 1.5, 1.0)
        name, y = self.conv(x, f'model.24.m.{i}.', NA * NO, act=False, g=g, b=np.tile(prior, NA))
        shape = self.init(self.val(self.n), np.array([1, NA, NO, ny, nx], np.int64))
        self.n += 1
        t = self.node('Reshape', [name, shape])
        t = self.node('Transpose', [t], perm=[0, 1, 3, 4, 2])
        if i == 0:
            self.n += 2                     # torch's gap before head 0's Sigmoid (folded grid code)
        sig = self.node('Sigmoid', [t])
        y = 1 / (1 + np.exp(-y.reshape(NA, NO, ny, nx).transpose(0, 2, 3, 1)))

        def sl(a, b):
            c = [self.constant(np.array([v], np.int64)) for v in (a, b, 4, 1)]
            return self.node('Slice', [sig] + c)

        def gap_init(arr):
            name = self.init(self.val(self.n), np.array(arr, np.float32))
            self.n += 1
            return name

        gv, gx = np.mgrid[0:ny, 0:nx]
        grid = np.broadcast_to(np.stack([gx, gv], -1), (1, NA, ny, nx, 2)).astype(np.float32)
        agrid = np.broadcast_to((np.array(ANCHORS[i], np.float32)).reshape(1, NA, 1, 1, 2),
                                (1, NA, ny, nx, 2)).astype(np.float32)
        xy = sl(0, 2)
        xy = self.node('Mul', [xy, gap_init(2.0)])
        xy = self.node('Sub', [xy, gap_init(0.5)])
        xy = self.node('Add', [xy, gap_init(grid)])
        xy = self.node('Mul', [xy, gap_init(float(s))])
        wh = sl(2, 4)
        if wh_mul_const is None:
            wh_mul_const = gap_init(2.0)
        else:
            self.n += 1                     # the gap stays, the constant is shared
        wh = self.node('Mul', [wh, wh_mul_const])
        wh = self.node('Pow', [wh, pow_exp])
        wh = self.node('Mul', [wh, self.init(str(460 + 4 * i), agrid)])
        cf = sl(4, 85)
        cat = self.node('Concat', [xy, wh, cf], axis=-1)
        out = self.node('Reshape', [cat, self.constant(np.array([1, -1, NO], np.int64))])
        dec = np.concatenate([(y[..., :2] * 2 - 0.5 + grid[0]) * s, (y[..., 2:4] * 2) ** 2 * agrid[0],
                              y[..., 4:]], -1)
        return out, dec.reshape(-1, NO)


def build():
    net = Net()
    img = synthetic_image()
    x = ('images', img)
    x = net.conv(x, 'model.0.conv.', 32, 6, 2, 2)
    x = net.conv(x, 'model.1.conv.', 64, 3, 2)
    x = net.c3(x, 2, 64, 1)
    x = net.conv(x, 'model.3.conv.', 128, 3, 2)
    p4 = x = net.c3(x, 4, 128, 2)
    x = net.conv(x, 'model.5.conv.', 256, 3, 2)
    p6 = x = net.c3(x, 6, 256, 3)
    x = net.conv(x, 'model.7.conv.', 512, 3, 2)
    x = net.c3(x, 8, 512, 1)
    x = net.sppf(x, 9, 512)
    p10 = x = net.conv(x, 'model.10.conv.', 256)
    x = net.c3(net.concat([net.upsample(x), p6]), 13, 256, 1, False)
    p14 = x = net.conv(x, 'model.14.conv.', 128)
    p17 = x = net.c3(net.concat([net.upsample(x), p4]), 17, 128, 1, False)
    x = net.conv(x, 'model.18.conv.', 128, 3, 2)
    p20 = x = net.c3(net.concat([x, p14]), 20, 256, 1, False)
    x = net.conv(x, 'model.21.conv.', 256, 3, 2)
    p23 = net.c3(net.concat([x, p10]), 23, 512, 1, False)
    assert net.n == 196, net.n
    # Which constant is which initializer fixes the breadth-first uids, so these make every layer key of the
    # vendor guide resolve (check_keys.py): Pow exponents '461', '465' (uid 40, new) and '441' (uid 45), while
    # head 2's wh x2 reuses '461' (a new initializer there would take uid 60 and shift all later ones).
    pw = [net.init('461', np.array(2.0, np.float32)), net.init('465', np.array(2.0, np.float32)),
          net.init('441', np.array(2.0, np.float32))]
    heads = [net.detect_head(p17, 0, 196, 134, pw[0], None),
             net.detect_head(p20, 1, 233, 142, pw[1], None),
             net.detect_head(p23, 2, 268, 150, pw[2], pw[0])]
    net.n, net.off = 303, 150
    net.node('Concat', [h[0] for h in heads], out='output', axis=1)
    net.init('462', np.array([], np.float32))
    net.init('463', np.array([1, 1, 2, 2], np.float32))
    # initializers in torch's order: weights as used, then the numbered constants by number
    params = [t for t in net.inits if not t.name.isdigit()]
    consts = sorted((t for t in net.inits if t.name.isdigit()), key=lambda t: int(t.name))
    graph = helper.make_graph(
        net.nodes, 'torch-jit-export',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, [1, 25200, NO])],
        params + consts)
    model = helper.make_model(graph, producer_name='make_yolov5s.py', producer_version='1',
                              opset_imports=[helper.make_opsetid('', 12)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model, img, np.concatenate([h[1] for h in heads])


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != '--dump'):
        sys.exit('usage: make_yolov5s.py OUT.onnx [--dump DIR]')
    np.seterr(over='ignore')
    model, img, out = build()
    with open(sys.argv[1], 'wb') as f:
        f.write(model.SerializeToString())
    if len(sys.argv) == 4:
        np.save(f'{sys.argv[3]}/input.npy', img[None].astype(np.float32))
        np.save(f'{sys.argv[3]}/output_numpy.npy', out[None].astype(np.float32))


if __name__ == '__main__':
    main()
