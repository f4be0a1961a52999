"""Convolution and pooling layers: backward passes against central differences (float64),
argument errors with their spec position, and the sample shapes a forward run accepts.

Their outputs, summaries and ONNX exports are checked against Keras' goldens with every other
architecture (tests/specs/conv*.yaml, depthwise*.yaml, separable.yaml, configs/)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import CONFIGS
from test_backprop import check_gradients, model_from

GRADIENT_CASES = {
    "conv2d_same_groups": """
        input: [5, 4, 4]
        layers:
          - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, groups: 2, activation: tanh}
          - {type: Conv2D, filters: 2, kernel_size: [2, 1], strides: [2, 1]}""",
    "conv2d_dilated_channels_first": """
        input: [2, 6, 5]
        layers:
          - {type: Conv2D, filters: 3, kernel_size: 2, dilation_rate: [2, 1], data_format: channels_first,
             activation: softmax}""",
    "conv1d_causal": """
        input: [7, 2]
        layers:
          - {type: Conv1D, filters: 3, kernel_size: 3, padding: causal, dilation_rate: 2}
          - {type: Conv1D, filters: 2, kernel_size: 2, strides: 2, use_bias: false}""",
    "conv3d": """
        input: [3, 4, 3, 2]
        layers:
          - {type: Conv3D, filters: 2, kernel_size: [2, 2, 1], strides: [1, 2, 1], padding: same}""",
    "depthwise": """
        input: [5, 5, 2]
        layers:
          - {type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2, strides: 2, padding: same,
             activation: elu}""",
    "separable_channels_first": """
        input: [2, 5, 4]
        layers:
          - {type: SeparableConv2D, filters: 3, kernel_size: 2, depth_multiplier: 2,
             data_format: channels_first}""",
    "conv2d_transpose": """
        input: [3, 2, 2]
        layers:
          - {type: Conv2DTranspose, filters: 2, kernel_size: 3, strides: 2, padding: same,
             output_padding: 1, activation: tanh}
          - {type: Conv2DTranspose, filters: 2, kernel_size: [2, 3], strides: [1, 2]}""",
    "conv1d_transpose_channels_first": """
        input: [2, 4]
        layers:
          - {type: Conv1DTranspose, filters: 3, kernel_size: 3, dilation_rate: 2,
             data_format: channels_first, padding: same}""",
    "max_pooling": """
        input: [5, 5, 2]
        layers:
          - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
          - {type: MaxPooling2D, pool_size: [2, 1], strides: 1}""",
    "average_pooling_same": """
        input: [2, 5, 4]
        layers:
          - {type: AveragePooling2D, pool_size: 2, padding: same, data_format: channels_first}
          - {type: Reshape, target_shape: [6, 2]}
          - {type: AveragePooling1D, pool_size: 3, strides: 2, padding: same}""",
    "pooling_1d_3d": """
        input: [4, 3, 4, 2]
        layers:
          - {type: MaxPooling3D, pool_size: [2, 1, 2], padding: same}
          - {type: AveragePooling3D, pool_size: [1, 3, 2], strides: 1}""",
    "global_pooling": """
        inputs: {x: [3, 4, 6]}
        layers:
          - {name: gmax, type: GlobalMaxPooling2D, inputs: x}
          - {name: gavg, type: GlobalAveragePooling2D, keepdims: true, data_format: channels_first,
             inputs: x}
          - {name: flat, type: Flatten}
          - {name: both, type: Concatenate, inputs: [gmax, flat]}
          - {name: seq, type: Reshape, target_shape: [3, 2], inputs: gmax}
          - {name: g1, type: GlobalMaxPooling1D, keepdims: true}
          - {name: g1avg, type: GlobalAveragePooling1D, data_format: channels_first, inputs: seq}
          - {name: vol, type: Reshape, target_shape: [3, 1, 1, 3], inputs: both}
          - {name: g3, type: GlobalMaxPooling3D, inputs: vol}
          - {name: g3avg, type: GlobalAveragePooling3D, data_format: channels_first, inputs: vol}
        outputs: [g1, g1avg, g3, g3avg]""",
}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_backward_matches_central_differences(case):
    check_gradients(model_from("        dtype: float64" + GRADIENT_CASES[case]), seed=3)
