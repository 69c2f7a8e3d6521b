"""AILabTools: photo retouch, image extender, facial expressions (classic and advanced), and the
HD color migration the vendor has retired.

Every fact here comes from the researched contract (``vendor-contracts.md``, cited as §n) and
the vendor's own pages (``vendor-docs/ailabtools-*.txt``, the ``ailabtools-tobias/ailabtools-docs``
Mintlify source and the ``ailabtools/ailabtools-sdk`` spec). We cannot reach the vendor, so this
package follows the written contract exactly and tolerates both envelope generations (§1.2).

``adapter`` speaks to the vendor; ``contract`` holds its endpoints, limits and result origins;
``errors`` what each of its error codes means; ``expressions`` the values its expression editors
take; ``credits`` an account's credit balance.
"""
