"""Pictures in: the dataset and everything that turns pictures into model inputs.

- `fashion_mnist.py`: find, verify, load and cache Fashion-MNIST; stratified splits and subsets.
- `preprocess.py`: any user picture (upload, canvas drawing) to the 28x28 input, step by step.
- `augment.py`: random augmentations in the styles people draw (Keras layers and ops only).
- `user_pictures.py`: test images redrawn as drawings, clip art and photos (evaluation sets).
- `gallery.py`: image grids and PNG bytes for pages, reports and downloads.
- `showcase.py`: the home page's pictures, one per action.
- `exports.py`: any set of images as a ZIP with a CSV index.
"""
