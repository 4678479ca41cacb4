"""Publishing a dataset generation: atomic numbered directories of Parquet shards,
a manifest, Croissant JSON-LD metadata, a data card with plots, and the
generation-history report. Plain Python; never imports dagster.
"""
