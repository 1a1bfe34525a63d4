"""Everything that imports streamlit lives in this package; the core (fmnist_core.*) never
imports it and works without streamlit installed.

navigation (the page table and its sections), links (a page's view kept in its address, and
Copy link), loaders (cached dataset, models, results, embeddings), widgets
(steps, answers, grids), version_widgets (versions in the app), hover_images (the image under
the mouse on a chart), embedding_form (the Embeddings page's form and its link), inside_views,
quality_views and quiz_views (the larger views of the Inside-the-CNN, Data quality and Quiz
pages), reports (the report download),
streamlit_patches (two changes to Streamlit's internals), warm_up (background work after a
server's first page). Importing the package applies the patches and
starts the warm-up, once per server process.
"""

from fmnist_core.ui.streamlit_patches import keep_keras_state_between_runs
from fmnist_core.ui.warm_up import start_warm_up

keep_keras_state_between_runs()
start_warm_up()
