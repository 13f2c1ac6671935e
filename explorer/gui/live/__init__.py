"""The Live section: camera, video or moving shapes through the network."""
