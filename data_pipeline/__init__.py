"""TensorFlow data pipeline: sources -> CIELAB TFRecord shards -> (L, ab) batches."""
