"""The Why & training section: CAMs, neighbours, augmentation, transfer learning."""
