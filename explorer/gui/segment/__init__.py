"""The Segmentation section: FCN, dilated FCN and U-Net side by side."""
