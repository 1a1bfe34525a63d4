"""Inside a CNN and why it answered: the Inside-the-CNN page and the `explain` command.

- `inspector.py`: a model's layers with real shapes, and every layer's output for one image.
- `attribution.py`: where a model looked (gradients, integrated gradients, Grad-CAM, occlusion)
  and how faithful each map is.
- `heatmaps.py`: those maps as pictures over the image they explain.
- `explanation.py`: one image through one model, explained, for the CLI.
"""
