"""Golden summaries and forward passes for the convolution and pooling architectures.

    KERAS_BACKEND=numpy /work/kenv/bin/python tools/golden/convolution.py

Runs summaries.py and forward.py on the convolution specs only (the other goldens stay as
they are): tests/specs/conv*.yaml, depthwise*.yaml, separable.yaml and the two convolution
configs.
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import forward  # noqa: E402
import summaries  # noqa: E402

SPECS = (glob.glob(os.path.join(summaries.ROOT, "tests", "specs", "conv*.yaml"))
         + glob.glob(os.path.join(summaries.ROOT, "tests", "specs", "depthwise*.yaml"))
         + ["separable.yaml", "mnist_convnet.yaml", "conv1d_classifier.yaml"])
STEMS = sorted(os.path.splitext(os.path.basename(p))[0] for p in SPECS)

if __name__ == "__main__":
    sys.argv[1:] = STEMS    # both scripts remake the specs named on their command line
    summaries.main()
    forward.main()
