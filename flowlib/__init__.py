"""Nagasaki Tourism Flow: plain, Airflow-free building blocks of the nightly pipeline.

Every stage the DAGs run lives here so that it can be imported, tested and benchmarked
without a scheduler. The DAG files only wire these functions together.
"""
