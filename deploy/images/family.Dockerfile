# One service family's image (lakectl/runtime/images.py): the base plus exactly the artifacts its native
# recipes fetched (`lakectl service fetch ...`, run in a container of the base, so venvs and builds are
# made by the image's own Python and JDK at the path they are used from).
ARG BASE
FROM ${BASE}
COPY cache/ /opt/lakectl/cache/
