"""The Detection section: sliding window, proposals with R-CNN / Fast R-CNN, MTCNN."""
