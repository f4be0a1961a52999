# Weight paths start with the Sequential that built the layer (`enc/e1/kernel`), nested or
# not; a layer built elsewhere first keeps its own path; a Sequential without an input shape
# used as a layer takes its first call's.
import keras
import numpy as np
from keras import layers


class Block(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(3, name="bd")

    def call(self, x):
        return self.inner(x)


enc = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="e1")], name="enc")
top = keras.Sequential([keras.Input((4,)), enc, layers.Dense(2, name="t")], name="top")
print("top", [w.path for w in top.weights])
i = keras.Input((4,))
mid = keras.Model(i, enc(i), name="mid")
j = keras.Input((4,))
outer = keras.Model(j, layers.Dense(1, name="o")(mid(j)), name="outer")
print("outer", [w.path for w in outer.weights])
s1 = keras.Sequential([layers.Dense(3, name="a1"), layers.Dense(2, name="a2")], name="s1")
s1.build((None, 4))
print("s1", [w.path for w in s1.weights])
s3 = keras.Sequential([keras.Input((4,)), Block(name="blk")], name="s3")
print("s3", [w.path for w in s3.weights])
pre = layers.Dense(4, name="pre")
k = keras.Input((4,))
first = keras.Model(k, pre(k), name="first")
s4 = keras.Sequential([keras.Input((4,)), pre, layers.Dense(1, name="post")], name="s4")
print("s4", [w.path for w in s4.weights])
s6 = keras.Sequential([layers.Dense(3, name="f1")], name="s6")
m = keras.Input((4,))
g = keras.Model(m, s6(m), name="g")
print("g", [w.path for w in g.weights])
g.summary()
g.set_weights([np.arange(np.prod(w.shape), dtype="float32").reshape(w.shape) / 10
               for w in g.weights])
print(np.round(g.predict(np.ones((1, 4), "float32"), verbose=0), 4).tolist())
