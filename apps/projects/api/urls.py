"""The projects spec's Projects, Datasets, RAG and Tasks sections, on the platform surface."""

urlpatterns: list = []
