"""Fashion-MNIST CNN explorer: the navigation, nothing else."""

# Imported here, before sessions run pages side by side: thirty sessions importing pandas
# for the first time at once raised "partially initialized module 'pandas'" (bench_quiz.py).
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import streamlit as st

from fmnist_core.ui.identity import identity_sidebar, write_cookie_if_needed
from fmnist_core.ui.links import note_page
from fmnist_core.ui.navigation import pages_by_section
from fmnist_core.ui.streamlit_patches import rerun_after_reconnecting

st.set_page_config(
    page_title="Fashion-MNIST CNN Explorer", page_icon=":material/checkroom:", layout="wide"
)
# Our images are 28x28 pixels shown larger: square pixels, not a blur (once per run, here,
# rather than once per image grid)
st.html("<style>[data-testid='stImage'] img {image-rendering: pixelated;}</style>")
navigation = st.navigation(
    {
        section: [st.Page(p.path, title=p.title, icon=p.icon, default=p.default) for p in pages]
        for section, pages in pages_by_section().items()
    }
)
note_page(navigation.url_path)  # a page just entered takes its view from the link
# class mode: who you are, the teacher's sign-in (nothing in personal mode)
identity_sidebar()
# a page whose server died reruns on the server the proxy sends it to (deploy/serve.py)
rerun_after_reconnecting()
navigation.run()
write_cookie_if_needed()  # after the page: it may have named or signed in this person
