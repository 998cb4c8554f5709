"""Same-process A/B: ours vs keras-hub, both jax.jit(stateless_call), interleaved.

    python benchmarks/ab_keras_hub.py BATCH LENGTH WORKDIR/keras   (weights from inference.py)
"""
import os, sys, time; os.environ["KERAS_BACKEND"]="jax"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))); import common, jax, numpy as np, keras_hub
from albert_demo.models.albert_masked_lm import AlbertMaskedLM
ours = AlbertMaskedLM.from_preset(sys.argv[3], preprocessor=None)
kh = keras_hub.models.AlbertMaskedLM.from_preset(sys.argv[3], preprocessor=None)
def mk(m):
    tv=[v.value for v in m.trainable_variables]; ntv=[v.value for v in m.non_trainable_variables]
    f=jax.jit(lambda tv,ntv,x: m.stateless_call(tv,ntv,x)[0])
    return lambda x: np.asarray(f(tv,ntv,x))
fo, fk = mk(ours), mk(kh)
B,T = int(sys.argv[1]), int(sys.argv[2])
x = common.make_batch(B,T,30000)
for name,f in (("ours",fo),("kh",fk),("ours",fo),("kh",fk)):
    med,s = common.timed(lambda: f(x), 5 if B==1 else 2, warmup=1)
    print(name, round(med*1e3,1), [round(v*1e3) for v in s], flush=True)
print(np.abs(fo(x)-fk(x)).max())
