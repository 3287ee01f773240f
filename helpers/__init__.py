"""Helper modules of the MNIST workbook, one per topic, used by the notebooks."""
