"""Convolution playground: results against torch/scipy and the lecture's formula, sizes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from explorer.errors import UserError
from explorer.lab import conv
from explorer.lab.table import lecture_table

RNG = np.random.default_rng(0)
RANDOM = RNG.normal(size=(9, 11))
IMAGES = {"table": lecture_table(), "random": RANDOM}
KERNELS = [(n, s) for n in conv.kernel_names() for s in conv.KERNEL_SIZES[n]]


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))[None, None]


def test_lecture_table():
    x = lecture_table()
    assert x.shape == (10, 10) and x.dtype == np.float64
    assert x[0].tolist()[:3] == [544, 552, 570]
    assert x[9, 9] == 557 and x[9, 5] == 625 and x[1, 3] == 617
    assert x[0].tolist() == [544, 552, 570, 585, 600, 607, 608, 581, 558, 577]
    assert x[:, 0].tolist() == [544, 549, 579, 529, 506, 567, 579, 590, 596, 593]
    assert x.sum() == 56760


def test_presets():
    assert conv.kernel("x-derivative").tolist() == [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    assert conv.kernel("y-derivative").tolist() == [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    assert conv.kernel("laplacian").tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    assert conv.kernel("gaussian", 5).sum() == pytest.approx(1.0)
    assert conv.kernel("gaussian", 5)[2, 2] == 36 / 256
    assert conv.kernel("box", 5).sum() == pytest.approx(1.0)
    assert conv.kernel("laplacian", 5).sum() == 0
    assert conv.kernel("x_derivative", 5).shape == (5, 5)
    assert conv.kernel("identity", 5)[2, 2] == 1 and conv.kernel("identity", 5).sum() == 1


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("name,size", KERNELS)
def test_equals_torch_exactly(image, name, size):
    x, w = IMAGES[image], conv.kernel(name, size)
    got = conv.convolve(x, w, mode="correlation")
    assert np.array_equal(got, F.conv2d(_t(x), _t(w))[0, 0].numpy())
    got = conv.convolve(x, w)  # convolution: the flipped kernel
    assert np.array_equal(got, F.conv2d(_t(x), _t(w[::-1, ::-1]))[0, 0].numpy())
    got = conv.convolve(x, w, "same-zeros", mode="correlation")
    assert np.array_equal(got, F.conv2d(_t(x), _t(w), padding=size // 2)[0, 0].numpy())
    got = conv.convolve(x, w, "same-reflect", stride=2, mode="correlation")
    layer = torch.nn.Conv2d(1, 1, size, stride=2, padding=size // 2, padding_mode="reflect",
                            bias=False).double()
    layer.weight.data = _t(w).clone()
    assert np.array_equal(got, layer(_t(x))[0, 0].detach().numpy())


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("name,size", KERNELS)
def test_against_scipy(image, name, size):
    """scipy is an independent implementation of true convolution and its borders."""
    x, w = IMAGES[image], conv.kernel(name, size)
    np.testing.assert_allclose(conv.convolve(x, w), signal.convolve2d(x, w, "valid"))
    np.testing.assert_allclose(conv.convolve(x, w, mode="correlation"),
                               signal.correlate2d(x, w, "valid"))
    np.testing.assert_allclose(conv.convolve(x, w, "same-zeros"), signal.convolve2d(x, w, "same"))
    np.testing.assert_allclose(conv.convolve(x, w, "same-symmetric"),
                               signal.convolve2d(x, w, "same", boundary="symm"))


def test_lecture_formula_and_hand_values():
    """a_ij = sum_p sum_q x_(i-p)(j-q) w_pq with the kernel centred (p, q in -1..1)."""
    x = lecture_table()
    w = RNG.normal(size=(3, 3))
    out = conv.convolve(x, w)
    for i in range(1, 9):
        for j in range(1, 9):
            a = sum(x[i - p, j - q] * w[p + 1, q + 1] for p in (-1, 0, 1) for q in (-1, 0, 1))
            assert out[i - 1, j - 1] == pytest.approx(a)
    box = conv.convolve(x, conv.kernel("box"))
    assert box[0, 0] == pytest.approx(5078 / 9)  # mean of 544 552 570 / 549 561 595 / 579 574 554
    dx = conv.convolve(x, conv.kernel("x-derivative"), stride=2)
    assert dx[0].tolist() == [93, 62, 36, -176]
    # ramp brightening to the right: positive x derivative in convolution mode, negative
    # in correlation mode (the flip matters for odd kernels)
    ramp = np.tile(np.arange(6.0), (6, 1))
    assert np.all(conv.convolve(ramp, conv.kernel("x-derivative")) == 8)
    assert np.all(conv.convolve(ramp, conv.kernel("x-derivative"), mode="correlation") == -8)
    assert np.all(conv.convolve(ramp, conv.kernel("y-derivative")) == 0)


def test_padding_stride_dilation_match_torch():
    x = RNG.normal(size=(13, 12))
    w = RNG.normal(size=(3, 4))
    for s in (1, 2, 3):
        for d in (1, 2):
            got = conv.convolve(x, w, stride=s, dilation=d, mode="correlation")
            ref = F.conv2d(_t(x), _t(w), stride=s, dilation=d)[0, 0].numpy()
            assert np.array_equal(got, ref)
            for padding in conv.PADDINGS[1:]:
                out = conv.convolve(x, w, padding, s, d)
                assert out.shape == (-(-13 // s), -(-12 // s))  # "same": ceil(m / s)
    sym = conv.pad(np.arange(9.0).reshape(3, 3), (3, 3), "same-symmetric")
    assert sym[0].tolist() == [0, 0, 1, 2, 2]
    ref = conv.pad(np.arange(9.0).reshape(3, 3), (3, 3), "same-reflect")
    assert ref[0].tolist() == [4, 3, 4, 5, 4]


@pytest.mark.parametrize("padding", conv.PADDINGS)
def test_steps_sum_to_output(padding):
    x = RNG.normal(size=(7, 8))
    w = RNG.normal(size=(3, 2))
    out = conv.convolve(x, w, padding, stride=2, dilation=2)
    steps = list(conv.steps(x, w, padding, stride=2, dilation=2))
    assert len(steps) == out.size
    for step in steps:
        assert step.total == pytest.approx(out[step.out])
        assert np.array_equal(step.weights, w[::-1, ::-1])
        inside = step.inside
        assert np.array_equal(step.values[inside], x[step.rows[inside], step.cols[inside]])
    first = steps[0]
    if padding == "valid":
        assert first.rows.tolist() == [[0, 0], [2, 2], [4, 4]]
        assert first.cols.tolist() == [[0, 2]] * 3 and first.inside.all()
    else:
        assert first.rows[0, 0] == -2 and not first.inside[0, 0]
        if padding == "same-zeros":
            assert first.values[0, 0] == 0


def test_output_size_grid_against_torch():
    for m in range(1, 11):
        for k in range(1, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    for d in (1, 2, 3):
                        n = conv.output_size(m, k, s, p, d)
                        if n < 1:
                            continue
                        x = torch.zeros(1, 1, m, m, device="meta")
                        w = torch.zeros(1, 1, k, k, device="meta")
                        y = F.conv2d(x, w, stride=s, padding=p, dilation=d)
                        assert y.shape[-1] == n, (m, k, s, p, d)
                        assert n == (m + 2 * p - d * (k - 1) - 1) // s + 1
                        t = conv.transposed_output_size(n, k, s, p, d)
                        if t < 1:  # padding crops the whole transposed output
                            continue
                        assert conv.output_size(t, k, s, p, d) == n
                        yt = F.conv_transpose2d(y, w, stride=s, padding=p, dilation=d)
                        assert yt.shape[-1] == t
                        if p == 0 and d == 1:  # the lecture's valid formula
                            assert n == (m - k) // s + 1


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 12), w=st.integers(1, 12), k1=st.integers(1, 5), k2=st.integers(1, 5),
    s=st.integers(1, 4), d=st.integers(1, 3), padding=st.sampled_from(conv.PADDINGS),
)
def test_output_shape_property(h, w, k1, k2, s, d, padding):
    x = np.arange(h * w, dtype=np.float64).reshape(h, w)
    kernel = np.ones((k1, k2))
    shape = conv.conv_output_shape((h, w), (k1, k2), padding, s, d)
    if min(shape) < 1:
        with pytest.raises(UserError):
            conv.convolve(x, kernel, padding, s, d)
        return
    if padding == "same-reflect" and (d * (k1 - 1) - d * (k1 - 1) // 2 >= h
                                      or d * (k2 - 1) - d * (k2 - 1) // 2 >= w):
        with pytest.raises(UserError):
            conv.convolve(x, kernel, padding, s, d)
        return
    out = conv.convolve(x, kernel, padding, s, d)
    assert out.shape == shape
    if padding != "valid":
        assert shape == (-(-h // s), -(-w // s))
    else:
        assert shape == (conv.output_size(h, k1, s, 0, d), conv.output_size(w, k2, s, 0, d))


def test_lecture_stride_chains():
    assert conv.size_chain(128, 5, 1)[:4] == [128, 124, 120, 116]
    # The lecture lists 128 -> 62 -> 29 -> 12 for 5x5 valid stride 2. Its own formula,
    # floor((29 - 5) / 2) + 1, gives 13 (torch agrees), so the slide's 12 is a slip.
    assert conv.size_chain(128, 5, 2) == [128, 62, 29, 13, 5, 1]
    y = torch.zeros(1, 1, 128, 128, device="meta")
    sizes = []
    for _ in range(3):
        y = F.conv2d(y, torch.zeros(1, 1, 5, 5, device="meta"), stride=2)
        sizes.append(y.shape[-1])
    assert sizes == [62, 29, 13]
    assert conv.formula(128, 5, 2) == "floor((128 + 2*0 - 1*(5-1) - 1) / 2) + 1 = 62"


def test_transposed():
    x, w = RNG.normal(size=(4, 5)), RNG.normal(size=(3, 2))
    np.testing.assert_allclose(conv.transposed(x, w), signal.convolve2d(x, w, "full"))
    up = conv.transposed(lecture_table(), conv.kernel("identity"), stride=2)
    assert up.shape == (21, 21) == (conv.transposed_output_size(10, 3, 2),) * 2
    assert np.array_equal(up[1::2, 1::2], lecture_table()) and up[::2].sum() == 0
    got = conv.transposed(x, w, stride=2, padding=1, output_padding=1)
    ref = F.conv_transpose2d(_t(x), _t(w), stride=2, padding=1, output_padding=1)
    assert np.array_equal(got, ref[0, 0].numpy())
    # scatter: each input value adds a scaled copy of the kernel
    one = np.zeros((3, 3))
    one[1, 2] = 2.0
    out = conv.transposed(one, w, stride=2)
    assert np.array_equal(out[2:5, 4:6], 2 * w) and out.sum() == pytest.approx(2 * w.sum())


@pytest.mark.parametrize(
    "call",
    [
        lambda: conv.kernel("sharpen"),
        lambda: conv.kernel("box", 4),
        lambda: conv.convolve(lecture_table(), np.ones((3, 3)), stride=0),
        lambda: conv.convolve(lecture_table(), np.ones((3, 3)), dilation=0),
        lambda: conv.convolve(lecture_table(), np.ones((11, 3))),
        lambda: conv.convolve(lecture_table(), np.ones((3, 3)), padding="same"),
        lambda: conv.convolve(lecture_table(), np.ones((3, 3)), mode="flip"),
        lambda: conv.convolve(np.ones((2, 2)), np.ones((5, 5)), "same-reflect"),
        lambda: conv.convolve(np.ones(5), np.ones((1, 1))),
        lambda: conv.transposed(np.ones((2, 2)), np.ones((3, 3)), stride=2, output_padding=2),
    ],
)
def test_bad_arguments(call):
    with pytest.raises(UserError):
        call()


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (3, 2, 2)])
def test_transposed_steps_add_up(stride, padding, dilation):
    x, w = RNG.normal(size=(4, 3)), RNG.normal(size=(3, 2))
    out = conv.transposed(x, w, stride, padding, dilation)
    acc = np.zeros_like(out)
    steps = list(conv.transposed_steps(x, w, stride, padding, dilation))
    assert len(steps) == x.size and steps[0].source == (0, 0)
    for step in steps:
        np.add.at(acc, (step.rows[step.inside], step.cols[step.inside]),
                  step.contributions[step.inside])
    np.testing.assert_allclose(acc, out)


@pytest.mark.parametrize("interpolation", conv.INTERPOLATIONS)
@pytest.mark.parametrize("factor,padding,mode", [(2, "same-zeros", "convolution"),
                                                 (3, "valid", "correlation"),
                                                 (2, "same-reflect", "correlation")])
def test_upsample_then_convolve_equals_torch(interpolation, factor, padding, mode):
    x, w = lecture_table(), conv.kernel("x-derivative")
    up = conv.upsample(x, factor, interpolation)
    extra = {"align_corners": False} if interpolation == "bilinear" else {}
    ref_up = F.interpolate(_t(x), scale_factor=factor, mode=interpolation, **extra)
    assert np.array_equal(up, ref_up[0, 0].numpy()) and up.shape == (10 * factor,) * 2
    got = conv.upsample_convolve(x, w, factor, interpolation, padding, mode=mode)
    applied = w[::-1, ::-1] if mode == "convolution" else w
    if padding == "valid":
        ref = F.conv2d(ref_up, _t(applied.copy()))
    else:
        layer = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False, padding_mode={
            "same-zeros": "zeros", "same-reflect": "reflect"}[padding]).double()
        layer.weight.data = _t(applied.copy()).clone()
        ref = layer(ref_up).detach()
    np.testing.assert_allclose(got, ref[0, 0].numpy(), rtol=1e-12, atol=1e-9)
    # the forward steps on the up-sampled picture add up to the same numbers
    for step in list(conv.steps(up, w, padding, 1, 1, mode))[:40]:
        assert step.total == pytest.approx(got[step.out])


def test_upsample_nearest_repeats_and_sizes_match_transposed():
    x = lecture_table()[:4, :4]
    near = conv.upsample(x, 2, "nearest")
    assert np.array_equal(near[::2, ::2], x) and np.array_equal(near[1::2, 1::2], x)
    # the lecture's two ways up: a stride-2 transposed convolution and x2 up-sampling then a
    # "same" convolution both take 4x4 to about 8x8 ((4-1)*2 + 3 = 9, 4*2 = 8)
    w = conv.kernel("box")
    assert conv.transposed(x, w, 2).shape == (9, 9)
    assert conv.upsample_convolve(x, w, 2).shape == (8, 8)


@pytest.mark.parametrize(
    "call",
    [
        lambda: conv.upsample(lecture_table(), 0),
        lambda: conv.upsample(lecture_table(), 65),
        lambda: conv.upsample(lecture_table(), 2, "bicubic"),
        lambda: conv.upsample(np.ones((1, 1)), 2.5),
        lambda: conv.upsample(np.ones((2000, 2000)), 64),
        lambda: conv.upsample_convolve(lecture_table(), np.ones((3, 3)), 2, padding="full"),
        lambda: conv.upsample_convolve(lecture_table(), np.ones((3, 3)), 2, mode="flip"),
        lambda: conv.upsample_convolve(np.ones((1, 1)), np.ones((5, 5)), 2, padding="valid"),
    ],
)
def test_upsample_bad_arguments(call):
    with pytest.raises(UserError):
        call()
