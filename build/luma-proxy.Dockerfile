FROM scratch
COPY luma /luma
EXPOSE 80
STOPSIGNAL SIGTERM
ENTRYPOINT ["/luma", "proxy", "run"]
