"""Input data: the embedded art set, TFDS builders and the tf.data pipeline.

Modules, imported on their own so that only the pipeline pulls in TensorFlow:

* `embedded`: procedural geometric-abstraction images in NumPy (no files,
  no TensorFlow).
* `tfds_builders`: TFDS builders for a local WikiArt copy and any image folder.
* `pipeline`: `DataConfig` and `create_input_iterator`, the resumable
  per-host batch iterator the training loop consumes.
"""
