"""The evaluator room: every metric as an object built from `config.evals`.

The training loop (at every snapshot) and `python -m stylegan_jax.metrics`
run the same objects, so both report the same number for the same
checkpoint. Modules:

* `specs`: the metrics by official name (`fid50k_full`, `fid10k`,
  `kid50k_full`, `pr50k3_full`, `is50k`, `ppl2_wend`, `ppl_zend`, `swd`,
  `style_acc`),
  their image counts and weights, and the config check;
* `generated`: the one definition of "the N generated images" (seeds,
  labels from the dataset's class distribution, truncation, noise, uint8
  quantisation) and its sharded renderer;
* `reals`: the one definition of the real images (embedded set or folder,
  fixed order), read without TensorFlow;
* `context`: feature extraction over the device mesh, the real-statistics
  cache, progress lines;
* `distribution` (FID, KID, PR, IS, SWD), `path_length` (PPL) and `style`
  (style accuracy and diversity of conditional models on the embedded set,
  with its classifier in `style_classifier`): the metric objects;
* `evaluation`: `Evaluation`, the configured metrics as one callable, and
  the records written to `metrics.jsonl` and TensorBoard.
"""

from stylegan_jax.evaluators import specs
from stylegan_jax.evaluators.evaluation import Evaluation
from stylegan_jax.evaluators.evaluation import from_config
from stylegan_jax.evaluators.evaluation import write_results
from stylegan_jax.evaluators.reals import RealImages
from stylegan_jax.evaluators.specs import METRICS

__all__ = ["METRICS", "Evaluation", "RealImages", "from_config", "specs",
           "write_results"]
