"""SimpleRNN, LSTM and GRU (Keras 3), and the Bidirectional wrapper.

A recurrent layer reads a sequence (batch, steps, features). Its input projection x @ kernel
(+ bias) is one matrix product for every step at once; only the recurrence h @ recurrent_kernel
loops, over the steps, vectorized over the batch.

Keras' semantics kept here (keras/src/backend/numpy/rnn.py; `unroll: true` gives the same
numbers but for the zero_output_for_mask below):
- `go_backwards: true` reads the steps last to first, and returns the sequence of outputs in
  that processing order (not flipped back); Bidirectional flips its backward half back.
- With a mask (from `Embedding(mask_zero=True)`), a masked step leaves every state as it was;
  its output is the previous output (`h`), or zeros where Keras sets `zero_output_for_mask`
  (inside Bidirectional with `return_sequences: true`, unless `unroll: true`: Keras' NumPy
  and JAX backends' unrolled loop ignores it).
- Dropout and recurrent dropout are the identity at inference.

Weights follow Keras 3 paths: `lstm/lstm_cell/kernel` (in, 4u), `.../recurrent_kernel`
(u, 4u), `.../bias` (4u,) with gates in the order i, f, c, o; GRU gates z, r, h, its bias
(2, 3u) with `reset_after: true` (input bias, recurrent bias) or (3u,) without.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from nnctl.layers.base import (ArgError, Layer, WeightSpec, boolean, cannot_draw, number,
                               positive_int, wrapped_layer)
from nnctl.layers.core import _activation, _initializer

# ONNX's names for the activations its RNN, LSTM and GRU operators apply without arguments
NATIVE_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                      "softsign": "Softsign"}
INT64_MIN = -(2 ** 63)
# neuron_link of the recurrent layers
_FEEDS_BACK = cannot_draw("a recurrent layer feeds its units back into themselves over the "
                          "time steps")


class UnitForgetBias:
    """LSTM's bias initializer with `unit_forget_bias`: the forget gate's quarter is ones."""

    def __init__(self, bias_initializer, units: int):
        self.bias_initializer, self.units = bias_initializer, units

    def __call__(self, shape, dtype="float32", rng=None):
        u = self.units
        return np.concatenate([self.bias_initializer((u,), dtype=dtype, rng=rng),
                               np.ones((u,), dtype=dtype),
                               self.bias_initializer((2 * u,), dtype=dtype, rng=rng)])

    def get_config(self):
        return self.bias_initializer.get_config()


class Recurrent(Layer):
    """The base of SimpleRNN, LSTM and GRU: arguments, shapes, weights and the time loop.

    A subclass gives `gates` (blocks of `units` in the kernels), `n_states`, `cell_name`
    and the maths of one step: `step` and its backward `step_back`.
    """

    gates = 1
    n_states = 1
    cell_name = "simple_rnn_cell"
    consumes_mask = True   # a mask (nnctl.masking) changes the results: see the docstring
    recurrent = True       # lint: its activation is inside a cell (nnctl.lint)
    affine = False
    neuron_link = _FEEDS_BACK
    # the kernel that multiplies the input (lint, inspect --compare-init); per subclass too
    kernel_weights = ("simple_rnn_cell/kernel",)
    initializer_args = {"simple_rnn_cell/kernel": "kernel_initializer"}
    onnx_op = "RNN"
    onnx_gate_order = (0,)   # ONNX's order of the gates, as indices of Keras' blocks
    inert_args = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                  "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                  "bias_constraint", "seed", "use_cudnn")

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, **common):
        super().__init__(**common)
        name = self.name
        self.units = positive_int(units, "units", name)
        self.activation = _activation(activation, name)
        self.use_bias = boolean(use_bias, "use_bias", name)
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer", name)
        self.recurrent_initializer = _initializer(recurrent_initializer,
                                                  "recurrent_initializer", name)
        self.bias_initializer = _initializer(bias_initializer, "bias_initializer", name)
        self.dropout = number(dropout, "dropout", name, low=0, high=1)
        self.recurrent_dropout = number(recurrent_dropout, "recurrent_dropout", name,
                                        low=0, high=1)
        self.return_sequences = boolean(return_sequences, "return_sequences", name)
        self.return_state = boolean(return_state, "return_state", name)
        self.go_backwards = boolean(go_backwards, "go_backwards", name)
        self.stateful = boolean(stateful, "stateful", name)
        if self.stateful:
            raise ArgError("stateful", f"layer '{name}': `stateful: true` carries states from "
                                       "one batch to the next; nnctl runs rows independently "
                                       "and does not support it")
        self.unroll = boolean(unroll, "unroll", name)
        # Bidirectional sets this on its halves when it returns sequences (as Keras does)
        self.zero_output_for_mask = False
        for key in ("activation", "recurrent_activation"):
            if hasattr(self, key) and not getattr(self, key).elementwise:
                raise ArgError(key, f"layer '{name}': `{key}` must act element-wise, got "
                                    f"{getattr(self, key).name}")

    # --- shapes and weights ------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        return 1 + self.n_states if self.return_state else 1

    def _sequence_shape(self, input_shapes) -> tuple:
        (shape,) = input_shapes
        if len(shape) != 2:
            raise ArgError(None, f"layer '{self.name}': {type(self).__name__} takes sequences "
                                 f"(steps, features), got input shape {tuple(shape)}")
        if shape[-1] is None:
            raise ArgError(None, f"layer '{self.name}': {type(self).__name__} needs a known "
                                 f"number of features, got input shape {tuple(shape)}")
        return shape

    def output_shapes(self, input_shapes) -> list[tuple]:
        """The shape of every output: the output, then the states with `return_state`."""
        steps, _ = self._sequence_shape(input_shapes)
        out = (steps, self.units) if self.return_sequences else (self.units,)
        return [out] + [(self.units,)] * (self.n_states if self.return_state else 0)

    def output_shape(self, input_shapes):
        return self.output_shapes(input_shapes)[0]

    def bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def bias_initializer_for_shape(self):
        return self.bias_initializer

    def weight_specs(self, input_shapes):
        _, features = self._sequence_shape(input_shapes)
        width = self.gates * self.units
        cell = self.cell_name
        specs = [WeightSpec(f"{cell}/kernel", (features, width), self.kernel_initializer,
                            self.trainable),
                 WeightSpec(f"{cell}/recurrent_kernel", (self.units, width),
                            self.recurrent_initializer, self.trainable)]
        if self.use_bias:
            specs.append(WeightSpec(f"{cell}/bias", self.bias_shape(),
                                    self.bias_initializer_for_shape(), self.trainable))
        return specs

    def macs(self, input_shapes, output_shape):
        steps, features = self._sequence_shape(input_shapes)
        return (steps or 1) * self.gates * self.units * (features + self.units)

    def scratch_values(self, input_shapes):
        """`run`'s input projection x @ kernel: gates x units for every step."""
        steps, _ = self._sequence_shape(input_shapes)
        return (steps or 1) * self.gates * self.units

    # --- the weights, split the way a step uses them ------------------------------------
    def _unpack(self, weights):
        """(kernel, recurrent_kernel, input bias or None, recurrent bias or None)."""
        cell = self.cell_name
        kernel, recurrent = weights[f"{cell}/kernel"], weights[f"{cell}/recurrent_kernel"]
        bias = weights.get(f"{cell}/bias") if self.use_bias else None
        return kernel, recurrent, bias, None

    # --- forward -------------------------------------------------------------------------
    def call(self, inputs, weights, mask=None):
        outputs, _ = self.run(inputs[0], weights, mask)
        return outputs if self.n_outputs > 1 else outputs[0]

    def run(self, x, weights, mask=None, keep=False):
        """(outputs as `call` lists them, the tape for `backward` when `keep`)."""
        kernel, recurrent, input_bias, recurrent_bias = self._unpack(weights)
        batch, steps, _ = x.shape
        xw = x @ kernel
        if input_bias is not None:
            xw += input_bias
        states = [np.zeros((batch, self.units), dtype=xw.dtype) for _ in range(self.n_states)]
        sequence = np.empty((batch, steps, self.units), dtype=xw.dtype) \
            if self.return_sequences else None
        tape = [] if keep else None
        out = states[0]
        for k, t in enumerate(self._time_order(steps)):
            new, cache = self.step(xw[:, t], states, recurrent, recurrent_bias)
            if mask is not None:
                m = mask[:, t:t + 1]
                out = np.where(m, new[0], 0 if self.zero_output_for_mask else states[0])
                new = [np.where(m, n, s) for n, s in zip(new, states)]
            else:
                out = new[0]
            if keep:
                tape.append((t, states, cache))
            if sequence is not None:
                sequence[:, k] = out
            states = new
        first = sequence if sequence is not None else out
        if steps == 0:
            first = sequence if sequence is not None else states[0]
        return [first] + (list(states) if self.return_state else []), tape

    def _time_order(self, steps):
        return range(steps - 1, -1, -1) if self.go_backwards else range(steps)

    # --- backward through time -------------------------------------------------------------
    def backward(self, inputs, weights, output, grad, mask=None):
        """Backward through time: (input gradients, weight gradients) given the gradient of
        the output, or of each output (a list, None where none arrived) with return_state."""
        grads = grad if self.n_outputs > 1 else [grad]
        x = inputs[0]
        kernel, recurrent, input_bias, recurrent_bias = self._unpack(weights)
        _, tape = self.run(x, weights, mask, keep=True)
        batch, steps, _ = x.shape
        dtype = np.result_type(x.dtype, kernel.dtype)
        zeros = np.zeros((batch, self.units), dtype=dtype)
        grads = list(grads) + [None] * (self.n_outputs - len(grads))
        d_out = grads[0]
        d_states = [g if g is not None else zeros for g in (grads[1:] or [None] * self.n_states)]
        d_states = d_states + [zeros] * (self.n_states - len(d_states))
        d_xw = np.zeros((batch, steps, self.gates * self.units), dtype=dtype)
        d_recurrent = np.zeros_like(recurrent, dtype=dtype)
        d_recurrent_bias = None if recurrent_bias is None else np.zeros_like(recurrent_bias)
        for k in range(len(tape) - 1, -1, -1):
            t, previous, cache = tape[k]
            if d_out is None:
                g_out = zeros
            elif self.return_sequences:
                g_out = d_out[:, k]
            else:
                g_out = d_out if k == len(tape) - 1 else zeros
            if mask is not None:
                m = mask[:, t:t + 1]
                d_new = [np.where(m, d, 0) for d in d_states]
                d_prev = [np.where(m, 0, d) for d in d_states]
                d_new[0] = d_new[0] + np.where(m, g_out, 0)
                if not self.zero_output_for_mask:
                    d_prev[0] = d_prev[0] + np.where(m, 0, g_out)
            else:
                d_new = [d_states[0] + g_out] + d_states[1:]
                d_prev = [zeros] * self.n_states
            d_xw_t, d_prev_cell, d_r, d_rb = self.step_back(d_new, previous, cache, recurrent,
                                                           recurrent_bias)
            d_xw[:, t] = d_xw_t
            d_recurrent += d_r
            if d_rb is not None:
                d_recurrent_bias += d_rb
            d_states = [a + b for a, b in zip(d_prev, d_prev_cell)]
        cell = self.cell_name
        flat_x, flat_d = x.reshape(-1, x.shape[-1]), d_xw.reshape(-1, d_xw.shape[-1])
        weight_grads = {f"{cell}/kernel": flat_x.T @ flat_d,
                        f"{cell}/recurrent_kernel": d_recurrent}
        if self.use_bias:
            weight_grads[f"{cell}/bias"] = self._pack_bias_grad(flat_d.sum(axis=0),
                                                                d_recurrent_bias)
        return [d_xw @ kernel.T], weight_grads

    def _pack_bias_grad(self, d_input_bias, d_recurrent_bias):
        return d_input_bias

    def pre_activation(self, inputs, weights):
        """What `activation` is applied to at every step (the candidate state), stacked
        (batch, steps, units), for `inspect`'s dead and saturated counts."""
        _, tape = self.run(inputs[0], weights, keep=True)
        if not tape:
            return np.zeros((len(inputs[0]), 0, self.units), dtype=inputs[0].dtype)
        return np.stack([self.candidate(cache) for _, _, cache in tape], axis=1)

    def candidate(self, cache):
        return cache

    # --- ONNX ------------------------------------------------------------------------------
    def to_onnx(self, g, inputs, weights, input_shapes, output_shape, mask=None):
        outputs = self.onnx_outputs(g, inputs[0], weights, input_shapes[0], mask)
        return outputs if self.n_outputs > 1 else outputs[0]

    def onnx_outputs(self, g, x, weights, shape, mask=None) -> list[str]:
        """[output, states...] as call() lists them (the states even without return_state):
        ONNX's own operator when it computes the same thing, else the steps written out."""
        if mask is None and self._native_activations() is not None:
            return self._onnx_operator(g, x, weights)
        return self._onnx_unrolled(g, x, weights, shape, mask)

    def _native_activations(self):
        names = [NATIVE_ACTIVATIONS.get(a.name) if not any(a.params.values()) else None
                 for a in self.onnx_activations()]
        return None if None in names else names

    def onnx_activations(self):
        return [self.activation]

    def onnx_extra_attributes(self) -> dict:
        return {}

    def _onnx_operator(self, g, x, weights):
        kernel, recurrent, input_bias, recurrent_bias = self._unpack(weights)
        u, gates = self.units, self.gates

        def onnx_order(matrix):   # (rows, gates * u) Keras -> (gates * u, rows) ONNX
            blocks = [matrix[..., k * u:(k + 1) * u] for k in self.onnx_gate_order]
            return np.concatenate(blocks, axis=-1).T[None]

        zeros = np.zeros(gates * u, dtype=kernel.dtype)
        bias = np.concatenate([onnx_order(b if b is not None else zeros)[0]
                               for b in (input_bias, recurrent_bias)])[None]
        steps = g.op("Transpose", x, perm=[1, 0, 2])
        results = g.op(self.onnx_op, steps, g.initializer(onnx_order(kernel), "kernel"),
                       g.initializer(onnx_order(recurrent), "recurrent_kernel"),
                       g.initializer(bias, "bias"), outputs=1 + self.n_states,
                       hidden_size=u, activations=self._native_activations(),
                       direction="reverse" if self.go_backwards else "forward",
                       **self.onnx_extra_attributes())
        sequence, states = results[0], results[1:]
        states = [g.op("Squeeze", s, g.ints([0])) for s in states]
        if not self.return_sequences:   # the output is the state h: one tensor per output
            return [g.op("Identity", states[0])] + states
        sequence = g.op("Transpose", g.op("Squeeze", sequence, g.ints([1])), perm=[1, 0, 2])
        if self.go_backwards:   # ONNX aligns a reverse pass with the input's steps
            sequence = reverse_steps(g, sequence)
        return [sequence] + states

    def _onnx_unrolled(self, g, x, weights, shape, mask):
        steps = shape[0]
        if steps is None:
            from nnctl.onnx.graph import CannotExport

            raise CannotExport("a masked sequence or this activation needs a known number of "
                               "steps to be written out in ONNX operators")
        kernel, recurrent, input_bias, recurrent_bias = self._unpack(weights)
        xw = g.op("MatMul", x, g.initializer(kernel, "kernel"))
        if input_bias is not None:
            xw = g.add(xw, g.initializer(input_bias, "bias"))
        r = g.initializer(recurrent, "recurrent_kernel")
        rb = g.initializer(recurrent_bias, "recurrent_bias") if recurrent_bias is not None \
            else None
        batch = g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([1]))
        zeros = g.op("Expand", g.c(np.zeros((1, self.units))),
                     g.op("Concat", batch, g.ints([self.units]), axis=0))
        states = [zeros] * self.n_states
        out, outputs = zeros, []
        for t in self._time_order(steps):
            xw_t = g.op("Gather", xw, g.c(np.int64(t), np.int64), axis=1)
            new = self.step_onnx(g, xw_t, states, recurrent, r, rb)
            if mask is not None:
                m = g.op("Unsqueeze", g.op("Gather", mask, g.c(np.int64(t), np.int64), axis=1),
                         g.ints([1]))
                out = g.where(m, new[0], g.c(np.zeros((1, self.units)))
                              if self.zero_output_for_mask else states[0])
                new = [g.where(m, n, s) for n, s in zip(new, states)]
            else:
                out = new[0]
            outputs.append(out)
            states = new
        if not self.return_sequences:
            return [g.op("Identity", out)] + states
        sequence = g.op("Concat", *[g.op("Unsqueeze", o, g.ints([1])) for o in outputs],
                        axis=1)
        return [sequence] + states

    # --- the maths of one step (subclasses) ----------------------------------------------
    def step(self, xw, states, recurrent, recurrent_bias):
        """(new states, what step_back needs) from this step's x @ kernel + bias."""
        raise NotImplementedError

    def step_back(self, d_new, states, cache, recurrent, recurrent_bias):
        """(d xw, d previous states, d recurrent_kernel, d recurrent bias or None)."""
        raise NotImplementedError

    def step_onnx(self, g, xw, states, recurrent, r, rb):
        """step() as ONNX operators: `recurrent` the array, `r` its initializer."""
        raise NotImplementedError


class SimpleRNN(Recurrent):
    """A fully connected recurrence: h = activation(x @ kernel + h @ recurrent_kernel + bias)."""

    def step(self, xw, states, recurrent, recurrent_bias):
        z = xw + states[0] @ recurrent
        return [self.activation(z)], z

    def step_back(self, d_new, states, z, recurrent, recurrent_bias):
        dz = self.activation.backward(z, d_new[0])
        return dz, [dz @ recurrent.T], states[0].T @ dz, None

    def step_onnx(self, g, xw, states, recurrent, r, rb):
        z = g.add(xw, g.op("MatMul", states[0], r))
        return [g.activation(self.activation, z, (self.units,))]


class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber): gates i, f, o and a cell state c."""

    gates = 4
    n_states = 2
    cell_name = "lstm_cell"
    kernel_weights = ("lstm_cell/kernel",)
    initializer_args = {"lstm_cell/kernel": "kernel_initializer"}
    onnx_op = "LSTM"
    onnx_gate_order = (0, 3, 1, 2)   # Keras i, f, c, o; ONNX i, o, f, c

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **common):
        self.recurrent_activation = _activation(recurrent_activation, common.get("name"))
        self.unit_forget_bias = boolean(unit_forget_bias, "unit_forget_bias",
                                        common.get("name"))
        super().__init__(units, activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll,
                         **common)

    def bias_initializer_for_shape(self):
        if self.unit_forget_bias:
            return UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def step(self, xw, states, recurrent, recurrent_bias):
        h, c = states
        u = self.units
        z = xw + h @ recurrent
        ra = self.recurrent_activation
        i, f, o = ra(z[:, :u]), ra(z[:, u:2 * u]), ra(z[:, 3 * u:])
        g = self.activation(z[:, 2 * u:3 * u])
        c_new = f * c + i * g
        a_c = self.activation(c_new)
        return [o * a_c, c_new], (z, i, f, g, o, c_new, a_c)

    def step_back(self, d_new, states, cache, recurrent, recurrent_bias):
        h, c = states
        z, i, f, g, o, c_new, a_c = cache
        u = self.units
        d_h, d_c = d_new
        d_o = d_h * a_c
        d_c = d_c + self.activation.backward(c_new, d_h * o)
        dz = np.empty_like(z)
        ra = self.recurrent_activation
        dz[:, :u] = ra.backward(z[:, :u], d_c * g)
        dz[:, u:2 * u] = ra.backward(z[:, u:2 * u], d_c * c)
        dz[:, 2 * u:3 * u] = self.activation.backward(z[:, 2 * u:3 * u], d_c * i)
        dz[:, 3 * u:] = ra.backward(z[:, 3 * u:], d_o)
        return dz, [dz @ recurrent.T, d_c * f], h.T @ dz, None

    def candidate(self, cache):
        return cache[0][:, 2 * self.units:3 * self.units]

    def onnx_activations(self):
        return [self.recurrent_activation, self.activation, self.activation]

    def step_onnx(self, g, xw, states, recurrent, r, rb):
        h, c = states
        u, shape = self.units, (self.units,)
        z = g.add(xw, g.op("MatMul", h, r))
        zi, zf, zc, zo = g.op("Split", z, g.ints([u] * 4), axis=1, outputs=4)
        ra = self.recurrent_activation
        i, f = g.activation(ra, zi, shape), g.activation(ra, zf, shape)
        cand, o = g.activation(self.activation, zc, shape), g.activation(ra, zo, shape)
        c_new = g.add(g.mul(f, c), g.mul(i, cand))
        return [g.mul(o, g.activation(self.activation, c_new, shape)), c_new]


class GRU(Recurrent):
    """Gated recurrent unit (Cho et al.): update gate z, reset gate r; `reset_after` as Keras 3."""

    gates = 3
    cell_name = "gru_cell"
    kernel_weights = ("gru_cell/kernel",)
    initializer_args = {"gru_cell/kernel": "kernel_initializer"}
    onnx_op = "GRU"
    onnx_gate_order = (0, 1, 2)   # z, r, h in both

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, **common):
        self.recurrent_activation = _activation(recurrent_activation, common.get("name"))
        self.reset_after = boolean(reset_after, "reset_after", common.get("name"))
        super().__init__(units, activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll,
                         **common)

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _unpack(self, weights):
        kernel, recurrent, bias, _ = super()._unpack(weights)
        if bias is not None and self.reset_after:
            return kernel, recurrent, bias[0], bias[1]
        return kernel, recurrent, bias, None

    def _pack_bias_grad(self, d_input_bias, d_recurrent_bias):
        if self.reset_after:
            return np.stack([d_input_bias, d_recurrent_bias])
        return d_input_bias

    def step(self, xw, states, recurrent, recurrent_bias):
        (h,) = states
        u = self.units
        ra = self.recurrent_activation
        if self.reset_after:
            inner = h @ recurrent
            if recurrent_bias is not None:
                inner += recurrent_bias
            a_zr = xw[:, :2 * u] + inner[:, :2 * u]
            zr = ra(a_zr)   # both gates in one call
            a_h = xw[:, 2 * u:] + zr[:, u:] * inner[:, 2 * u:]
        else:
            inner = h @ recurrent[:, :2 * u]
            a_zr = xw[:, :2 * u] + inner
            zr = ra(a_zr)
            a_h = xw[:, 2 * u:] + (zr[:, u:] * h) @ recurrent[:, 2 * u:]
        a_z, a_r, z, r = a_zr[:, :u], a_zr[:, u:], zr[:, :u], zr[:, u:]
        hh = self.activation(a_h)
        return [z * h + (1 - z) * hh], (inner, a_z, a_r, a_h, z, r, hh)

    def step_back(self, d_new, states, cache, recurrent, recurrent_bias):
        (h,) = states
        inner, a_z, a_r, a_h, z, r, hh = cache
        u = self.units
        ra = self.recurrent_activation
        (d_h_new,) = d_new
        d_h = d_h_new * z
        d_ah = self.activation.backward(a_h, d_h_new * (1 - z))
        d_az = ra.backward(a_z, d_h_new * (h - hh))
        d_xw = np.empty((len(h), 3 * u), dtype=d_ah.dtype)
        d_xw[:, :u], d_xw[:, 2 * u:] = d_az, d_ah
        if self.reset_after:
            d_ar = ra.backward(a_r, d_ah * inner[:, 2 * u:])
            d_xw[:, u:2 * u] = d_ar
            d_inner = np.concatenate([d_az, d_ar, d_ah * r], axis=1)
            d_h = d_h + d_inner @ recurrent.T
            d_recurrent = h.T @ d_inner
            d_rb = d_inner.sum(axis=0) if recurrent_bias is not None else None
            return d_xw, [d_h], d_recurrent, d_rb
        d_rh = d_ah @ recurrent[:, 2 * u:].T
        d_ar = ra.backward(a_r, d_rh * h)
        d_xw[:, u:2 * u] = d_ar
        d_gates = np.concatenate([d_az, d_ar], axis=1)
        d_h = d_h + d_rh * r + d_gates @ recurrent[:, :2 * u].T
        d_recurrent = np.concatenate([h.T @ d_gates, (r * h).T @ d_ah], axis=1)
        return d_xw, [d_h], d_recurrent, None

    def candidate(self, cache):
        return cache[3]

    def onnx_activations(self):
        return [self.recurrent_activation, self.activation]

    def onnx_extra_attributes(self):
        return {"linear_before_reset": int(self.reset_after)}

    def step_onnx(self, g, xw, states, recurrent, r, rb):
        (h,) = states
        u, shape = self.units, (self.units,)
        ra = self.recurrent_activation
        xz, xr, xh = g.op("Split", xw, g.ints([u] * 3), axis=1, outputs=3)
        if self.reset_after:
            inner = g.op("MatMul", h, r)
            if rb is not None:
                inner = g.add(inner, rb)
            iz, ir, ih = g.op("Split", inner, g.ints([u] * 3), axis=1, outputs=3)
            z, reset = g.activation(ra, g.add(xz, iz), shape), g.activation(ra, g.add(xr, ir),
                                                                              shape)
            a_h = g.add(xh, g.mul(reset, ih))
        else:
            gates = g.initializer(recurrent[:, :2 * u], "recurrent_kernel_zr")
            candidate = g.initializer(recurrent[:, 2 * u:], "recurrent_kernel_h")
            iz, ir = g.op("Split", g.op("MatMul", h, gates), g.ints([u] * 2), axis=1, outputs=2)
            z, reset = g.activation(ra, g.add(xz, iz), shape), g.activation(ra, g.add(xr, ir),
                                                                              shape)
            a_h = g.add(xh, g.op("MatMul", g.mul(reset, h), candidate))
        hh = g.activation(self.activation, a_h, shape)
        return [g.add(g.mul(z, h), g.mul(g.sub(1, z), hh))]


RECURRENT = {cls.__name__: cls for cls in (SimpleRNN, LSTM, GRU)}
MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """A recurrent layer run forwards and backwards over the sequence, the two outputs merged."""

    consumes_mask = True
    recurrent = True
    affine = False
    neuron_link = _FEEDS_BACK
    wrapped_layer_key = "layer"  # the model names it (Keras' default names, nnctl.model)

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **common):
        super().__init__(**common)
        name = self.name
        if backward_layer is not None:   # Keras runs it instead of `layer` backwards
            raise ArgError("backward_layer", f"layer '{name}': `backward_layer` is not "
                                             "supported; nnctl runs `layer` both ways (drop "
                                             "backward_layer)")
        if weights is not None:
            raise ArgError("weights", f"layer '{name}': `weights` is not taken here; give "
                                      "weights in a weights file")
        if merge_mode not in MERGE_MODES:
            raise ArgError("merge_mode", f"layer '{name}': `merge_mode` must be one of concat, "
                                         f"sum, mul, ave or null, got {merge_mode!r}")
        self.merge_mode = merge_mode
        self.layer = self._inner(layer)
        if self.layer.go_backwards:   # Keras refuses it: its backward half goes backwards too
            raise ArgError("layer", f"layer '{name}': the wrapped layer has `go_backwards: "
                                    "true`; Bidirectional runs it backwards itself, and nnctl "
                                    "wraps only a layer that reads forwards, as Keras does "
                                    "without a backward_layer (drop go_backwards)")
        inner = self.layer.name
        self.forward_half = self._half(f"forward_{inner.removeprefix('forward_')}", False)
        self.backward_half = self._half(f"backward_{inner.removeprefix('backward_')}", True)
        # its kernels are the halves' (inspect --compare-init redraws them)
        self.kernel_weights = tuple(f"{half.name}/{w}" for half in (self.forward_half,
                                                                   self.backward_half)
                                    for w in self.layer.kernel_weights)
        self.return_sequences = self.layer.return_sequences
        self.return_state = self.layer.return_state

    def _inner(self, layer):
        name = self.name
        if isinstance(layer, Recurrent):
            return layer
        if not isinstance(layer, dict) or "type" not in layer:
            raise ArgError("layer", f"layer '{name}': `layer` is the recurrent layer to wrap, "
                                    "e.g. `layer: {type: LSTM, units: 8}`")
        cls = RECURRENT.get(layer["type"])
        if cls is None:
            raise ArgError("layer", f"layer '{name}': Bidirectional wraps SimpleRNN, LSTM or "
                                    f"GRU, got {layer['type']!r}")
        return wrapped_layer(name, cls, layer, _stem(cls))

    def _half(self, name, go_backwards):
        half = copy.copy(self.layer)
        half.name, half.go_backwards = name, go_backwards
        # Keras sets zero_output_for_mask when returning sequences; its NumPy and JAX
        # backends honour it only without `unroll` (backend/numpy/rnn.py: the unrolled loop
        # repeats the previous output at a masked step, as a layer of its own does)
        half.zero_output_for_mask = self.layer.return_sequences and not self.layer.unroll
        return half

    def get_config(self):
        config = super().get_config()
        inner = self.layer.get_config()
        config["layer"] = inner
        return config

    # --- shapes, weights ---------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        merged = 1 if self.merge_mode is not None else 2
        return merged + (2 * self.layer.n_states if self.return_state else 0)

    def output_shapes(self, input_shapes):
        shapes = self.layer.output_shapes(input_shapes)
        out, states = shapes[0], shapes[1:]
        if self.merge_mode == "concat":
            merged = [out[:-1] + (2 * out[-1],)]
        elif self.merge_mode is None:
            merged = [out, out]
        else:
            merged = [out]
        return merged + states + states

    def output_shape(self, input_shapes):
        return self.output_shapes(input_shapes)[0]

    def weight_specs(self, input_shapes):
        specs = []
        for half in (self.forward_half, self.backward_half):
            specs += [WeightSpec(f"{half.name}/{w.name}", w.shape, w.initializer, w.trainable)
                      for w in half.weight_specs(input_shapes)]
        # trainable as the wrapped layer is: Keras' Bidirectional(trainable=False) freezes
        # itself (its summary row) but not the halves it makes, whose weights its model counts
        # as trainable (setting `trainable` afterwards freezes the wrapped layer too)
        return specs

    def macs(self, input_shapes, output_shape):
        return 2 * self.layer.macs(input_shapes, output_shape)

    def scratch_values(self, input_shapes):
        """One half's projection, and the first half's outputs while the second runs."""
        shapes = self.layer.output_shapes(input_shapes)
        return self.layer.scratch_values(input_shapes) + \
            sum(math.prod(d or 1 for d in shape) for shape in shapes)

    @staticmethod
    def _weights_of(half, weights):
        prefix = half.name + "/"
        return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}

    # --- forward, backward ---------------------------------------------------------------
    def _run_halves(self, x, weights, mask):
        """Both halves' outputs as run() lists them, the backward half's sequence flipped back
        to the input's order."""
        forward, _ = self.forward_half.run(x, self._weights_of(self.forward_half, weights),
                                            mask)
        backward, _ = self.backward_half.run(x, self._weights_of(self.backward_half, weights),
                                              mask)
        if self.return_sequences:
            backward = [backward[0][:, ::-1]] + backward[1:]
        return forward, backward

    def call(self, inputs, weights, mask=None):
        forward, backward = self._run_halves(inputs[0], weights, mask)
        outputs = self._merge(forward[0], backward[0]) + forward[1:] + backward[1:]
        return outputs if len(outputs) > 1 else outputs[0]

    def _merge(self, y, y_rev):
        mode = self.merge_mode
        if mode == "concat":
            return [np.concatenate([y, y_rev], axis=-1)]
        if mode == "sum":
            return [y + y_rev]
        if mode == "ave":
            return [(y + y_rev) / y.dtype.type(2)]
        if mode == "mul":
            return [y * y_rev]
        return [y, np.ascontiguousarray(y_rev)]

    def backward(self, inputs, weights, output, grad, mask=None):
        grads = grad if self.n_outputs > 1 else [grad]
        x = inputs[0]
        fw, bw = self.forward_half, self.backward_half
        w_fw, w_bw = self._weights_of(fw, weights), self._weights_of(bw, weights)
        n_merged = 1 if self.merge_mode is not None else 2
        grads = list(grads) + [None] * (self.n_outputs - len(grads))
        merged, states = grads[:n_merged], grads[n_merged:]
        half = len(states) // 2
        g_y, g_rev = self._merge_back(x, weights, merged, mask)
        if g_rev is not None and self.return_sequences:
            g_rev = g_rev[:, ::-1]
        d_fw, wg_fw = fw.backward([x], w_fw, None, _one_or_all([g_y] + states[:half]), mask)
        d_bw, wg_bw = bw.backward([x], w_bw, None, _one_or_all([g_rev] + states[half:]), mask)
        weight_grads = {f"{fw.name}/{k}": v for k, v in wg_fw.items()}
        weight_grads.update({f"{bw.name}/{k}": v for k, v in wg_bw.items()})
        return [d_fw[0] + d_bw[0]], weight_grads

    def pre_activation(self, inputs, weights):
        """Both halves' candidate states, side by side (for `inspect`)."""
        return np.concatenate([half.pre_activation(inputs, self._weights_of(half, weights))
                               for half in (self.forward_half, self.backward_half)], axis=-1)

    @property
    def activation(self):
        return self.layer.activation

    def to_onnx(self, g, inputs, weights, input_shapes, output_shape, mask=None):
        halves = [half.onnx_outputs(g, inputs[0], self._weights_of(half, weights),
                                    input_shapes[0], mask)
                  for half in (self.forward_half, self.backward_half)]
        y, y_rev = halves[0][0], halves[1][0]
        if self.return_sequences:
            y_rev = reverse_steps(g, y_rev)
        mode = self.merge_mode
        if mode == "concat":
            merged = [g.op("Concat", y, y_rev, axis=-1)]
        elif mode == "sum":
            merged = [g.add(y, y_rev)]
        elif mode == "ave":
            merged = [g.div(g.add(y, y_rev), 2)]
        elif mode == "mul":
            merged = [g.mul(y, y_rev)]
        else:
            merged = [y, y_rev]
        states = (halves[0][1:] + halves[1][1:]) if self.return_state else []
        outputs = merged + states
        return outputs if len(outputs) > 1 else outputs[0]

    def _merge_back(self, x, weights, merged, mask):
        """Gradients of the two halves' outputs (forward, backward in output order)."""
        mode = self.merge_mode
        if mode is None:
            return merged[0], merged[1]
        g = merged[0]
        if g is None:
            return None, None
        if mode == "concat":
            u = self.layer.units
            return g[..., :u], g[..., u:]
        if mode == "sum":
            return g, g
        if mode == "ave":
            return g / 2, g / 2
        forward, backward = self._run_halves(x, weights, mask)
        return g * backward[0], g * forward[0]


def reverse_steps(g, sequence: str) -> str:
    """A (batch, steps, units) tensor with its steps in reverse order."""
    return g.op("Slice", sequence, g.ints([-1]), g.ints([INT64_MIN]), g.ints([1]),
                g.ints([-1]))


def _one_or_all(grads):
    return grads if len(grads) > 1 else grads[0]


def _stem(cls) -> str:
    from nnctl.layers import default_name

    return default_name(cls)
