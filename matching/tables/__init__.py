"""Table input and output: the four tables read from and written to CSV/Parquet, and the joins the engine needs."""
