# The seed article's first sample (section 3.1): a Sequential model, verbatim below the imports.
import keras
from keras import layers

# 定义一个Sequential模型,包含3层
model = keras.Sequential(
    [
        # 第一层(隐藏层):激活函数为relu,权重初始化为he_normal
        layers.Dense(3, activation="relu",
                     kernel_initializer="he_normal", name="layer1",input_shape=(3,)),
        # 第二层(隐藏层):激活函数为relu,权重初始化为he_normal
        layers.Dense(2, activation="relu",
                     kernel_initializer="he_normal", name="layer2"),
        # 第三层(输出层):激活函数为sigmoid,权重初始化为he_normal
        layers.Dense(2, activation="sigmoid",
                     kernel_initializer="he_normal", name="layer3"),
    ],
    name="my_Sequential" # 定义该模型的名字
)

# 展示模型结果
model.summary()
